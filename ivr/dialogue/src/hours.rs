//! Opening hours of the 3230 platform (CCTP: 9:00–16:30 Monday–Friday, Paris time,
//! except public holidays), with the French public holidays computed rather than listed
//! so the calendar never runs out.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Paris;

/// When the platform answers. Defaults are the CCTP's.
#[derive(Debug, Clone)]
pub struct OpeningHours {
    pub open: NaiveTime,
    pub close: NaiveTime,
    /// Alsace-Moselle adds Good Friday and 26 December (local law); off by default
    /// because the 3230 is a national number.
    pub alsace_moselle: bool,
    /// Extra closed days (e.g. a "pont" decided by the Caf), Paris dates.
    pub extra_closed: Vec<NaiveDate>,
}

impl Default for OpeningHours {
    fn default() -> Self {
        OpeningHours {
            open: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            close: NaiveTime::from_hms_opt(16, 30, 0).unwrap_or_default(),
            alsace_moselle: false,
            extra_closed: Vec::new(),
        }
    }
}

impl OpeningHours {
    /// True when a call arriving at `now` is inside opening hours.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = Paris.from_utc_datetime(&now.naive_utc());
        let date = local.date_naive();
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return false;
        }
        if self.is_holiday(date) {
            return false;
        }
        let t = local.time();
        t >= self.open && t < self.close
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.extra_closed.contains(&date) || holidays(date.year(), self.alsace_moselle).contains(&date)
    }

    /// Like [`OpeningHours::is_open`], with the exceptional closures decided at run time
    /// (the supervisors' calendar, read from the database) also closing their days.
    pub fn is_open_with(&self, now: DateTime<Utc>, closures: &[ClosedRange]) -> bool {
        let date = Paris.from_utc_datetime(&now.naive_utc()).date_naive();
        self.is_open(now) && !closures.iter().any(|c| c.covers(date))
    }
}

/// An exceptional closure: every Paris day of `first..=last` is closed, whatever the hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl ClosedRange {
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.first <= date && date <= self.last
    }
}

/// Whether `now` falls in one of the closures (Paris day), open hours or not: a closure
/// day plays the closed message all day.
pub fn in_closure(now: DateTime<Utc>, closures: &[ClosedRange]) -> bool {
    let date = Paris.from_utc_datetime(&now.naive_utc()).date_naive();
    closures.iter().any(|c| c.covers(date))
}

/// The public holidays of a year with their French names, for the supervisors' calendar.
pub fn named_holidays(year: i32, alsace_moselle: bool) -> Vec<(NaiveDate, &'static str)> {
    let mut out: Vec<(NaiveDate, &'static str)> = [
        (1, 1, "Jour de l'an"),
        (5, 1, "Fête du Travail"),
        (5, 8, "Victoire 1945"),
        (7, 14, "Fête nationale"),
        (8, 15, "Assomption"),
        (11, 1, "Toussaint"),
        (11, 11, "Armistice 1918"),
        (12, 25, "Noël"),
    ]
    .iter()
    .filter_map(|&(m, d, name)| NaiveDate::from_ymd_opt(year, m, d).map(|date| (date, name)))
    .collect();
    if let Some(easter) = easter_sunday(year) {
        out.push((easter + Duration::days(1), "Lundi de Pâques"));
        out.push((easter + Duration::days(39), "Ascension"));
        out.push((easter + Duration::days(50), "Lundi de Pentecôte"));
        if alsace_moselle {
            out.push((easter - Duration::days(2), "Vendredi saint"));
        }
    }
    if alsace_moselle {
        out.extend(NaiveDate::from_ymd_opt(year, 12, 26).map(|d| (d, "Saint-Étienne")));
    }
    out.sort();
    out
}

/// Easter Sunday (Gregorian), by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// French public holidays (jours fériés, Code du travail L3133-1) of a year.
pub fn holidays(year: i32, alsace_moselle: bool) -> Vec<NaiveDate> {
    let fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)];
    let mut out: Vec<NaiveDate> = fixed.iter().filter_map(|&(m, d)| NaiveDate::from_ymd_opt(year, m, d)).collect();
    if let Some(easter) = easter_sunday(year) {
        out.push(easter + Duration::days(1)); // lundi de Pâques
        out.push(easter + Duration::days(39)); // Ascension
        out.push(easter + Duration::days(50)); // lundi de Pentecôte
        if alsace_moselle {
            out.push(easter - Duration::days(2)); // Vendredi saint
        }
    }
    if alsace_moselle {
        out.extend(NaiveDate::from_ymd_opt(year, 12, 26));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn paris(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        Paris.with_ymd_and_hms(y, m, day, h, min, 0).single().unwrap().with_timezone(&Utc)
    }

    #[test]
    fn easter_known_dates() {
        assert_eq!(easter_sunday(2025), Some(d(2025, 4, 20)));
        assert_eq!(easter_sunday(2026), Some(d(2026, 4, 5)));
        assert_eq!(easter_sunday(2027), Some(d(2027, 3, 28)));
        assert_eq!(easter_sunday(2038), Some(d(2038, 4, 25)));
    }

    #[test]
    fn movable_holidays_2025_2027() {
        let h25 = holidays(2025, false);
        assert!(h25.contains(&d(2025, 4, 21)) && h25.contains(&d(2025, 5, 29)) && h25.contains(&d(2025, 6, 9)));
        let h26 = holidays(2026, false);
        assert!(h26.contains(&d(2026, 4, 6)) && h26.contains(&d(2026, 5, 14)) && h26.contains(&d(2026, 5, 25)));
        let h27 = holidays(2027, false);
        assert!(h27.contains(&d(2027, 3, 29)) && h27.contains(&d(2027, 5, 6)) && h27.contains(&d(2027, 5, 17)));
        assert_eq!(h26.len(), 11);
        assert!(!h26.contains(&d(2026, 4, 3)), "Good Friday only in Alsace-Moselle");
        let am = holidays(2026, true);
        assert_eq!(am.len(), 13);
        assert!(am.contains(&d(2026, 4, 3)) && am.contains(&d(2026, 12, 26)));
    }

    #[test]
    fn opening_window_in_paris_time_across_dst() {
        let hours = OpeningHours::default();
        // Monday 23 Nov 2026 (winter, UTC+1).
        assert!(!hours.is_open(paris(2026, 11, 23, 8, 59)));
        assert!(hours.is_open(paris(2026, 11, 23, 9, 0)));
        assert!(hours.is_open(paris(2026, 11, 23, 16, 29)));
        assert!(!hours.is_open(paris(2026, 11, 23, 16, 30)));
        // Summer (UTC+2): 9:30 Paris is 7:30 UTC.
        let utc = Utc.with_ymd_and_hms(2026, 6, 16, 7, 30, 0).unwrap();
        assert!(hours.is_open(utc));
        let utc = Utc.with_ymd_and_hms(2026, 6, 16, 6, 30, 0).unwrap();
        assert!(!hours.is_open(utc));
    }

    #[test]
    fn named_holidays_are_the_holidays() {
        for year in [2025, 2026, 2027] {
            for am in [false, true] {
                let named: Vec<NaiveDate> = named_holidays(year, am).into_iter().map(|(d, _)| d).collect();
                assert_eq!(named, holidays(year, am));
            }
        }
    }

    #[test]
    fn a_closure_closes_its_days_only() {
        let hours = OpeningHours::default();
        let closures = [ClosedRange { first: d(2026, 11, 24), last: d(2026, 11, 25) }];
        assert!(!hours.is_open_with(paris(2026, 11, 24, 10, 0), &closures));
        assert!(!hours.is_open_with(paris(2026, 11, 25, 16, 0), &closures));
        assert!(hours.is_open_with(paris(2026, 11, 26, 10, 0), &closures));
        assert!(hours.is_open_with(paris(2026, 11, 23, 10, 0), &closures));
        assert!(in_closure(paris(2026, 11, 24, 23, 30), &closures), "a Paris day, not a UTC one");
        assert!(!in_closure(paris(2026, 11, 26, 0, 30), &closures));
    }

    #[test]
    fn closed_on_weekends_and_holidays() {
        let hours = OpeningHours::default();
        assert!(!hours.is_open(paris(2026, 11, 21, 10, 0))); // Saturday
        assert!(!hours.is_open(paris(2026, 11, 22, 10, 0))); // Sunday
        assert!(!hours.is_open(paris(2026, 11, 11, 10, 0))); // Armistice, a Wednesday
        assert!(!hours.is_open(paris(2027, 5, 6, 10, 0))); // Ascension 2027
        assert!(!hours.is_open(paris(2025, 6, 9, 10, 0))); // Whit Monday 2025
        assert!(hours.is_open(paris(2025, 6, 10, 10, 0)));
        let mut custom = OpeningHours::default();
        custom.extra_closed.push(d(2026, 11, 24));
        assert!(!custom.is_open(paris(2026, 11, 24, 10, 0)));
    }
}
