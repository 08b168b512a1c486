//! UAS dialog state (RFC 3261 §12): identifiers, route set, remote target and
//! CSeq spaces, and the writer of in-dialog requests (BYE, REFER, UPDATE).

use super::message::{self, Headers, Request};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Our side as it appears in requests we send (the INVITE's To, plus our tag).
    pub local_party: String,
    /// The caller as it appears in requests we send (the INVITE's From).
    pub remote_party: String,
    /// Where in-dialog requests go: the caller's Contact URI.
    pub remote_target: String,
    /// Record-Route of the INVITE, in order (§12.1.1: the UAS keeps it as is).
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    pub remote_cseq: u32,
    pub local_contact: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("INVITE without From tag")]
    NoFromTag,
    #[error("INVITE without usable Contact")]
    NoContact,
}

impl Dialog {
    /// The dialog a 2xx to `invite` creates.
    pub fn from_invite(invite: &Request, local_tag: &str, local_contact: &str, initial_cseq: u32) -> Result<Self, DialogError> {
        let remote_tag = invite.from_tag().ok_or(DialogError::NoFromTag)?.to_string();
        let contact = invite.header("Contact").ok_or(DialogError::NoContact)?;
        let remote_target = message::uri_of(contact).to_string();
        if !remote_target.contains(':') {
            return Err(DialogError::NoContact);
        }
        let to = invite.header("To").unwrap_or_default();
        let route_set = invite.headers_named("Record-Route").flat_map(message::split_list).map(str::to_string).collect();
        Ok(Self {
            call_id: invite.call_id().unwrap_or_default().to_string(),
            local_tag: local_tag.to_string(),
            remote_tag,
            local_party: format!("{to};tag={local_tag}"),
            remote_party: invite.header("From").unwrap_or_default().to_string(),
            remote_target,
            route_set,
            local_cseq: initial_cseq,
            remote_cseq: invite.cseq().map(|c| c.0).unwrap_or(0),
            local_contact: local_contact.to_string(),
        })
    }

    /// Does `req` belong to this dialog (Call-ID and both tags, §12.2.2)?
    pub fn matches(&self, req: &Request) -> bool {
        req.call_id() == Some(self.call_id.as_str()) && req.to_tag() == Some(self.local_tag.as_str()) && req.from_tag() == Some(self.remote_tag.as_str())
    }

    /// §12.2.2: a lower CSeq than the last one is out of order (answer 500);
    /// ACK and CANCEL carry the INVITE's number and are not checked.
    pub fn accept_remote_cseq(&mut self, req: &Request) -> bool {
        if req.method == "ACK" || req.method == "CANCEL" {
            return true;
        }
        match req.cseq() {
            Some((n, _)) if n > self.remote_cseq => {
                self.remote_cseq = n;
                true
            }
            _ => false,
        }
    }

    /// A re-INVITE may refresh the remote target (§12.2.2).
    pub fn refresh_target(&mut self, req: &Request) {
        if let Some(c) = req.header("Contact") {
            let uri = message::uri_of(c);
            if uri.contains(':') {
                self.remote_target = uri.to_string();
            }
        }
    }

    /// The URI whose host:port the request is sent to: the first route when loose
    /// routing applies, the remote target otherwise (§12.2.1.1, §16.12).
    pub fn next_hop(&self) -> String {
        match self.route_set.first() {
            Some(r) => message::uri_of(r).to_string(),
            None => self.remote_target.clone(),
        }
    }

    /// Writes a new in-dialog request with the next local CSeq. `via` is our sent-by
    /// (host:port) and `branch` a fresh RFC 3261 branch.
    pub fn request(&mut self, method: &str, via: &str, branch: &str, extra: &[(&str, String)], body: Option<(&str, &[u8])>) -> Vec<u8> {
        self.local_cseq += 1;
        let mut h: Vec<(&str, String)> = vec![
            ("Via", format!("SIP/2.0/UDP {via};branch={branch};rport")),
            ("Max-Forwards", "70".into()),
            ("From", self.local_party.clone()),
            ("To", self.remote_party.clone()),
            ("Call-ID", self.call_id.clone()),
            ("CSeq", format!("{} {method}", self.local_cseq)),
            ("Contact", format!("<{}>", self.local_contact)),
        ];
        // Strict routers (no ;lr) are not supported: every proxy in use today
        // (Kamailio included) does loose routing.
        for r in &self.route_set {
            h.push(("Route", r.clone()));
        }
        h.extend(extra.iter().cloned());
        message::request(method, &self.remote_target, &h, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, Message};

    fn invite(extra: &str) -> Request {
        let raw = format!(
            "INVITE sip:3230@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n{extra}From: <sip:caller@10.0.0.9>;tag=c1\r\nTo: <sip:3230@10.0.0.2>\r\nCall-ID: x1\r\nCSeq: 7 INVITE\r\nContact: <sip:caller@10.0.0.9:5062>\r\nContent-Length: 0\r\n\r\n"
        );
        match parse(raw.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bye_follows_route_set_and_swaps_parties() {
        let inv = invite("Record-Route: <sip:10.0.0.1;lr>, <sip:10.0.0.5;lr>\r\n");
        let mut d = Dialog::from_invite(&inv, "srv", "sip:ivr@10.0.0.2:5060", 100).unwrap();
        assert_eq!(d.next_hop(), "sip:10.0.0.1;lr");
        let bye = d.request("BYE", "10.0.0.2:5060", "z9hG4bKb", &[], None);
        let Ok(Message::Request(b)) = parse(&bye) else { panic!() };
        assert_eq!(b.uri, "sip:caller@10.0.0.9:5062");
        assert_eq!(b.from_tag(), Some("srv"));
        assert_eq!(b.to_tag(), Some("c1"));
        assert_eq!(b.cseq(), Some((101, "BYE".into())));
        let routes: Vec<&str> = b.headers_named("Route").collect();
        assert_eq!(routes, vec!["<sip:10.0.0.1;lr>", "<sip:10.0.0.5;lr>"]);
    }

    #[test]
    fn remote_cseq_must_increase() {
        let inv = invite("");
        let mut d = Dialog::from_invite(&inv, "srv", "sip:ivr@h", 1).unwrap();
        let mut bye = inv.clone();
        bye.method = "BYE".into();
        for (n, v) in bye.headers.iter_mut() {
            if n == "CSeq" {
                *v = "6 BYE".into();
            }
        }
        assert!(!d.accept_remote_cseq(&bye));
        for (n, v) in bye.headers.iter_mut() {
            if n == "CSeq" {
                *v = "8 BYE".into();
            }
        }
        assert!(d.accept_remote_cseq(&bye));
    }
}
