//! Errors of the console's handlers, turned into French pages with the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::pages;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("database: {0}")]
    Db(#[from] ivr_accounting::Error),
    #[error("no database configured")]
    NoDatabase,
    #[error("forbidden for this role")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("internal: {0}")]
    Internal(String),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, text) = match &self {
            ConsoleError::Forbidden => (StatusCode::FORBIDDEN, "Accès refusé", "Votre rôle ne donne pas accès à cette page."),
            ConsoleError::NotFound => (StatusCode::NOT_FOUND, "Page introuvable", "Cette page n'existe pas."),
            ConsoleError::Csrf => (StatusCode::FORBIDDEN, "Formulaire expiré", "Le formulaire n'est plus valide : rechargez la page et recommencez."),
            ConsoleError::NoDatabase => (StatusCode::SERVICE_UNAVAILABLE, "Console indisponible", "Aucune base de données n'est configurée (--db-url none)."),
            ConsoleError::Db(_) | ConsoleError::Internal(_) => {
                // The error names no personal data (queries are parameterized; values are
                // not part of sqlx's messages).
                tracing::error!(error = %self, "console request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Erreur", "Une erreur est survenue ; elle a été consignée.")
            }
        };
        (status, pages::message_page(title, text)).into_response()
    }
}
