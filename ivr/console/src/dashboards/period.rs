//! The period a dashboard or an export covers, as the form sends it.

use chrono::{Days, NaiveDate};
use ivr_accounting::report::Period;
use serde::Deserialize;

/// The longest period one page or export covers: a reporting year and some margin (the
/// report is computed on every request).
pub const MAX_DAYS: u64 = 400;
/// The default period: the last 30 days, today included.
pub const DEFAULT_DAYS: u64 = 30;

/// The form's fields, as sent (empty fields are the defaults).
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    pub du: Option<String>,
    #[serde(default)]
    pub au: Option<String>,
    #[serde(default)]
    pub par: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: Period,
}

impl Choice {
    pub fn default_for(today: NaiveDate) -> Choice {
        Choice { from: today.checked_sub_days(Days::new(DEFAULT_DAYS - 1)).unwrap_or(today), to: today, by: Period::Day }
    }

    /// Reads the form; the error is the French sentence shown to the user.
    pub fn read(q: &PeriodQuery, today: NaiveDate) -> Result<Choice, String> {
        let def = Choice::default_for(today);
        let day = |v: &Option<String>, default: NaiveDate, what: &str| match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("La date {what} n'est pas une date valide (AAAA-MM-JJ).")),
        };
        let from = day(&q.du, def.from, "de début")?;
        let to = day(&q.au, def.to, "de fin")?;
        let by = match q.par.as_deref().unwrap_or("jour") {
            "" | "jour" => Period::Day,
            "semaine" => Period::Week,
            "mois" => Period::Month,
            _ => return Err("La granularité doit être jour, semaine ou mois.".into()),
        };
        if to < from {
            return Err("La date de fin est avant la date de début.".into());
        }
        if (to - from).num_days() as u64 >= MAX_DAYS {
            return Err(format!("La période est limitée à {MAX_DAYS} jours."));
        }
        Ok(Choice { from, to, by })
    }

    /// The value of the form's `par` field.
    pub fn by_param(&self) -> &'static str {
        match self.by {
            Period::Day => "jour",
            Period::Week => "semaine",
            Period::Month => "mois",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn q(du: &str, au: &str, par: &str) -> PeriodQuery {
        PeriodQuery { du: Some(du.into()), au: Some(au.into()), par: Some(par.into()) }
    }

    #[test]
    fn defaults_and_errors() {
        let today = d("2026-05-31");
        assert_eq!(Choice::read(&PeriodQuery::default(), today), Ok(Choice { from: d("2026-05-02"), to: today, by: Period::Day }));
        assert_eq!(Choice::read(&q("2026-05-01", "2026-05-03", "semaine"), today).map(|c| c.by), Ok(Period::Week));
        assert!(Choice::read(&q("2026-05-04", "2026-05-03", "jour"), today).is_err());
        assert!(Choice::read(&q("04/05/2026", "", "jour"), today).is_err());
        assert!(Choice::read(&q("2024-01-01", "2026-01-01", "mois"), today).is_err());
        assert!(Choice::read(&q("", "", "annee"), today).is_err());
    }
}
