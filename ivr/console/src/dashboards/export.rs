//! `POST /tableaux/export`: the files `ivr report` writes, for the dashboard's period,
//! downloaded as attachments. The figures (CSV / XML / JSON per period) come from
//! `report::render`, the call-by-call records (CSV / XML, reversibility clause) from
//! `export::export`: the very functions the command line calls. Each export is written to
//! the audit log (`report-export`, period and format) before the file is sent.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use ivr_accounting::export::{self, ExportFormat};
use ivr_accounting::paris_day;
use ivr_accounting::report::{self, Format};
use serde::Deserialize;

use super::{Choice, PeriodQuery, EXPORT_ROLES};
use crate::pages::message_page;
use crate::{audit, AppState, Authed, ConsoleError};

/// The files offered: the form's value and its French label.
pub const CHOICES: [(&str, &str); 5] = [
    ("chiffres-csv", "Chiffres par période (CSV)"),
    ("chiffres-xml", "Chiffres par période (XML)"),
    ("chiffres-json", "Chiffres par période (JSON)"),
    ("appels-csv", "Appels un par un avec leur résultat SC3.2 (CSV)"),
    ("appels-xml", "Appels un par un avec leur résultat SC3.2 (XML)"),
];

#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    du: Option<String>,
    #[serde(default)]
    au: Option<String>,
    #[serde(default)]
    par: Option<String>,
    #[serde(default)]
    format: String,
}

enum File {
    Figures(Format),
    Records(ExportFormat),
}

impl File {
    fn parse(v: &str) -> Option<File> {
        Some(match v {
            "chiffres-csv" => File::Figures(Format::Csv),
            "chiffres-xml" => File::Figures(Format::Xml),
            "chiffres-json" => File::Figures(Format::Json),
            "appels-csv" => File::Records(ExportFormat::Csv),
            "appels-xml" => File::Records(ExportFormat::Xml),
            _ => return None,
        })
    }

    fn content_type(&self) -> &'static str {
        match self {
            File::Figures(Format::Csv) | File::Records(ExportFormat::Csv) => "text/csv; charset=utf-8",
            File::Figures(Format::Xml) | File::Records(ExportFormat::Xml) => "application/xml; charset=utf-8",
            File::Figures(Format::Json) => "application/json",
            File::Figures(Format::Table) => "text/plain; charset=utf-8",
        }
    }

    fn extension(&self) -> &'static str {
        match self {
            File::Figures(Format::Csv) | File::Records(ExportFormat::Csv) => "csv",
            File::Figures(Format::Xml) | File::Records(ExportFormat::Xml) => "xml",
            File::Figures(Format::Json) => "json",
            File::Figures(Format::Table) => "txt",
        }
    }
}

pub async fn export(State(state): State<AppState>, user: Authed, Form(form): Form<ExportForm>) -> Result<Response, ConsoleError> {
    user.require(EXPORT_ROLES)?;
    user.check_csrf(&form.csrf)?;
    let q = PeriodQuery { du: form.du, au: form.au, par: form.par };
    let choice = match Choice::read(&q, paris_day(state.now())) {
        Ok(c) => c,
        Err(why) => return Ok((StatusCode::BAD_REQUEST, message_page("Export impossible", &why)).into_response()),
    };
    let Some(file) = File::parse(&form.format) else {
        return Ok((StatusCode::BAD_REQUEST, message_page("Export impossible", "Ce format d'export n'existe pas.")).into_response());
    };
    let store = state.store()?;
    let rule = &state.accounting.sc32;
    let Choice { from, to, by } = choice;
    let (text, name) = match &file {
        File::Figures(f) => {
            let r = report::build(store, rule, from, to, by, None).await?;
            (report::render(&r, *f), format!("sc32-chiffres-{from}_{to}-{}", choice.by_param()))
        }
        File::Records(f) => (export::export(store, rule, from, to, *f).await?, format!("sc32-appels-{from}_{to}")),
    };
    // Audited before the file leaves: an export that cannot be audited is not sent.
    audit(&state, user.name(), "report-export", &format!("{from}..{to}"), &format!("format={} par={}", form.format, choice.by_param())).await?;
    let disposition = format!("attachment; filename=\"{name}.{}\"", file.extension());
    let disposition = HeaderValue::from_str(&disposition).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(file.content_type())), (header::CONTENT_DISPOSITION, disposition)], text).into_response())
}
