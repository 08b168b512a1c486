//! Caller identity from SIP headers, normalised to E.164, without ever exposing the number.
//!
//! The number only lives inside `E164` long enough to be pseudonymised; its `Debug` is
//! redacted and it has no `Display`, so it cannot end up in a log line by accident.

/// An E.164 number (`+` then digits). Deliberately opaque.
#[derive(Clone, PartialEq, Eq)]
pub struct E164(String);

impl E164 {
    /// The digits, for the HMAC only.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("E164(<redacted>)")
    }
}

/// What the signalling tells about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerNumber {
    Number(E164),
    Withheld,
}

/// Reads the caller from a From / P-Asserted-Identity value ("sip:+33612345678@host",
/// "<tel:06 12 34 56 78>", "\"Name\" <sip:0612345678@x;user=phone>") and the Privacy header.
/// `Privacy: id` (RFC 3325), "anonymous"/"unknown"/"restricted" user parts and values
/// without digits are withheld.
pub fn parse_caller(uri: &str, privacy: Option<&str>) -> CallerNumber {
    if privacy_withholds(privacy) {
        return CallerNumber::Withheld;
    }
    match normalize_e164(uri) {
        Some(n) => CallerNumber::Number(n),
        None => CallerNumber::Withheld,
    }
}

/// The caller of an INVITE. `asserted` are the values of its P-Asserted-Identity (RFC 3325),
/// split by the SIP layer, given only when the INVITE came from a trusted trunk (empty
/// otherwise): a trunk that rewrites From (to its own number, or a fixed one) asserts the
/// real caller there, and reading From would make every call look like the same caller
/// calling again. PAI may hold a sip: and a tel: URI; the first one that reads as a number
/// wins. `Privacy: id` still means withheld, whatever the headers hold.
pub fn identify_caller(from: &str, asserted: &[&str], privacy: Option<&str>) -> CallerNumber {
    if privacy_withholds(privacy) {
        return CallerNumber::Withheld;
    }
    asserted.iter().map(|value| parse_caller(value, None)).find(|n| matches!(n, CallerNumber::Number(_))).unwrap_or_else(|| parse_caller(from, None))
}

fn privacy_withholds(privacy: Option<&str>) -> bool {
    privacy.is_some_and(|p| p.to_ascii_lowercase().split(';').map(str::trim).any(|t| t == "id" || t == "user" || t == "header"))
}

/// French-centred E.164 normalisation: "0X XX…" (10 digits) → "+33X…", "0033…" → "+33…",
/// "33…" (11 digits) → "+33…", "+…" kept. Returns None when nothing looks like a number.
pub fn normalize_e164(uri: &str) -> Option<E164> {
    let mut s = uri.trim();
    // Display name and angle brackets.
    if let (Some(a), Some(b)) = (s.find('<'), s.rfind('>')) {
        if a < b {
            s = &s[a + 1..b];
        }
    }
    let lower = s.to_ascii_lowercase();
    for scheme in ["sips:", "sip:", "tel:"] {
        if lower.starts_with(scheme) {
            s = &s[scheme.len()..];
            break;
        }
    }
    // User part only, without URI parameters.
    let user = s.split('@').next().unwrap_or("");
    let user = user.split(';').next().unwrap_or("");
    let lowered = user.trim().to_ascii_lowercase();
    if matches!(lowered.as_str(), "" | "anonymous" | "unknown" | "restricted" | "private" | "unavailable") {
        return None;
    }
    let plus = user.trim_start().starts_with('+');
    let mut digits = String::with_capacity(user.len());
    for c in user.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '.' | '-' | '(' | ')' | '+' | '\t' => {}
            // Letters or other symbols: not a telephone number.
            _ => return None,
        }
    }
    if digits.len() < 3 || digits.len() > 15 + 2 {
        return None;
    }
    let e164 = if plus {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else if digits.len() == 10 && digits.starts_with('0') {
        format!("+33{}", &digits[1..])
    } else if digits.len() == 11 && digits.starts_with("33") {
        format!("+{digits}")
    } else {
        // Short or national numbers of unknown plan: keep the digits as they are, still a
        // stable identity for the same-day check.
        digits
    };
    Some(E164(e164))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Option<String> {
        normalize_e164(s).map(|e| e.0)
    }

    #[test]
    fn french_forms_normalise_to_the_same_number() {
        let want = Some("+33612345678".to_string());
        assert_eq!(n("sip:+33612345678@10.0.0.1"), want);
        assert_eq!(n("<sip:0612345678@trunk;user=phone>"), want);
        assert_eq!(n("\"Jean\" <tel:06 12 34 56 78>"), want);
        assert_eq!(n("tel:+33-6-12-34-56-78"), want);
        assert_eq!(n("sip:0033612345678@x"), want);
        assert_eq!(n("sip:33612345678@x"), want);
        assert_eq!(n("06.12.34.56.78"), want);
        assert_ne!(n("sip:0612345679@x"), want);
    }

    #[test]
    fn anonymous_and_privacy_are_withheld() {
        assert_eq!(parse_caller("sip:anonymous@anonymous.invalid", None), CallerNumber::Withheld);
        assert_eq!(parse_caller("\"Anonymous\" <sip:Anonymous@x>", None), CallerNumber::Withheld);
        assert_eq!(parse_caller("", None), CallerNumber::Withheld);
        assert_eq!(parse_caller("sip:@host", None), CallerNumber::Withheld);
        assert_eq!(parse_caller("sip:bob@host", None), CallerNumber::Withheld);
        assert_eq!(parse_caller("sip:+33612345678@x", Some("id")), CallerNumber::Withheld);
        assert_eq!(parse_caller("sip:+33612345678@x", Some("none")), CallerNumber::Number(E164("+33612345678".into())));
    }

    #[test]
    fn asserted_identity_wins_over_a_rewritten_from() {
        let want = CallerNumber::Number(E164("+33612345678".into()));
        // The trunk puts its own number in From and the caller in PAI.
        let from = "<sip:+33140000000@trunk>;tag=1";
        assert_eq!(identify_caller(from, &["<sip:+33612345678@trunk;user=phone>"], None), want);
        // Two values: the first that reads as a number.
        assert_eq!(identify_caller(from, &["\"Jean, D\" <sip:jean@x>", "<tel:+33612345678>"], None), want);
        // No usable PAI: From.
        assert_eq!(identify_caller(from, &["<sip:anonymous@x>"], None), CallerNumber::Number(E164("+33140000000".into())));
        assert_eq!(identify_caller(from, &[], None), CallerNumber::Number(E164("+33140000000".into())));
        // Privacy: id withholds whatever is asserted.
        assert_eq!(identify_caller(from, &["<tel:+33612345678>"], Some("id")), CallerNumber::Withheld);
        assert_eq!(identify_caller(from, &["<tel:+33612345678>"], Some("header; id")), CallerNumber::Withheld);
        assert_eq!(identify_caller(from, &[], Some("id")), CallerNumber::Withheld);
    }

    #[test]
    fn debug_never_shows_the_number() {
        let e = normalize_e164("sip:+33612345678@x");
        let s = format!("{e:?}");
        assert!(!s.contains("612345678"), "{s}");
    }
}
