//! Reads the few fields of an X.509 certificate clubhost needs (validity, issuer name, DNS names)
//! straight from its DER. Why not a parser crate: x509-parser would bring a second major version
//! of `nom` into the tree for three fields, and these have had one encoding since 1988.

/// What clubhost reads from a leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leaf {
    /// Validity start, seconds since the epoch.
    pub(crate) not_before: i64,
    /// Validity end, seconds since the epoch.
    pub(crate) not_after: i64,
    /// The issuer's common name (or organization when it has no CN).
    pub(crate) issuer: String,
    /// The subjectAltName's DNS names, lowercase.
    pub(crate) dns_names: Vec<String>,
}

/// One DER element: its tag byte and contents.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Takes the element at the front of `input`.
fn take<'a>(input: &mut &'a [u8]) -> Option<Tlv<'a>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, after) = rest.split_at(n);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if rest.len() < len {
        return None;
    }
    let (body, after) = rest.split_at(len);
    *input = after;
    Some(Tlv { tag, body })
}

/// Takes the element at the front of `input` if it has `tag`.
fn expect<'a>(input: &mut &'a [u8], tag: u8) -> Option<&'a [u8]> {
    let tlv = take(input)?;
    (tlv.tag == tag).then_some(tlv.body)
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// id-at-commonName (2.5.4.3) and id-at-organizationName (2.5.4.10).
const CN: &[u8] = &[0x55, 0x04, 0x03];
const O: &[u8] = &[0x55, 0x04, 0x0a];
/// id-ce-subjectAltName (2.5.29.17).
const SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// Reads a leaf certificate's DER; `None` when it is not a certificate.
pub(crate) fn leaf(der: &[u8]) -> Option<Leaf> {
    let mut input = der;
    let mut cert = expect(&mut input, SEQUENCE)?;
    let mut tbs = expect(&mut cert, SEQUENCE)?;
    let mut first = take(&mut tbs)?;
    if first.tag == 0xa0 {
        // [0] version; the serial number follows.
        first = take(&mut tbs)?;
    }
    let _serial = first;
    expect(&mut tbs, SEQUENCE)?; // signature algorithm
    let issuer = name(expect(&mut tbs, SEQUENCE)?);
    let mut validity = expect(&mut tbs, SEQUENCE)?;
    let not_before = time(take(&mut validity)?)?;
    let not_after = time(take(&mut validity)?)?;
    expect(&mut tbs, SEQUENCE)?; // subject
    expect(&mut tbs, SEQUENCE)?; // subjectPublicKeyInfo
    let mut dns_names = Vec::new();
    while let Some(field) = take(&mut tbs) {
        if field.tag == 0xa3 {
            dns_names = alt_names(field.body).unwrap_or_default();
        }
    }
    Some(Leaf {
        not_before,
        not_after,
        issuer,
        dns_names,
    })
}

/// The CN of a distinguished name, else its O, else empty.
fn name(mut rdns: &[u8]) -> String {
    let (mut cn, mut o) = (None, None);
    while let Some(mut set) = expect(&mut rdns, SET) {
        while let Some(mut attr) = expect(&mut set, SEQUENCE) {
            let (Some(oid), Some(value)) = (expect(&mut attr, OID), take(&mut attr)) else {
                continue;
            };
            let text = String::from_utf8_lossy(value.body).into_owned();
            match oid {
                CN => cn = Some(text),
                O => o = Some(text),
                _ => {}
            }
        }
    }
    cn.or(o).unwrap_or_default()
}

/// The DNS names of the subjectAltName extension in `[3] Extensions`.
fn alt_names(mut explicit: &[u8]) -> Option<Vec<String>> {
    let mut extensions = expect(&mut explicit, SEQUENCE)?;
    while let Some(mut ext) = expect(&mut extensions, SEQUENCE) {
        if expect(&mut ext, OID)? != SAN {
            continue;
        }
        let mut value = take(&mut ext)?;
        if value.tag == 0x01 {
            // `critical`, then the value.
            value = take(&mut ext)?;
        }
        if value.tag != OCTET_STRING {
            return None;
        }
        let mut octets = value.body;
        let mut general_names = expect(&mut octets, SEQUENCE)?;
        let mut names = Vec::new();
        while let Some(general) = take(&mut general_names) {
            // dNSName is [2] IMPLICIT IA5String.
            if general.tag == 0x82 {
                names.push(String::from_utf8_lossy(general.body).to_ascii_lowercase());
            }
        }
        return Some(names);
    }
    Some(Vec::new())
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) to seconds since the epoch.
fn time(tlv: Tlv<'_>) -> Option<i64> {
    let text = std::str::from_utf8(tlv.body).ok()?;
    let text = text.strip_suffix('Z')?;
    let (year, rest) = match tlv.tag {
        UTC_TIME if text.len() == 12 => {
            let yy: i64 = text[..2].parse().ok()?;
            // RFC 5280 §4.1.2.5.1: 50–99 are 19xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        GENERALIZED_TIME if text.len() == 14 => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let field = |i: usize| rest.get(i..i + 2)?.parse::<i64>().ok();
    let (month, day, hour, minute, second) =
        (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The first certificate of a PEM chain, as DER.
pub(crate) fn first_pem_der(pem: &str) -> Option<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_rcgen_wrote() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Club Test CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);

        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![
            "Club.Example".into(),
            "portal.club.example".into(),
        ])
        .unwrap();
        params.not_before = rcgen::date_time_ymd(2026, 3, 1);
        params.not_after = rcgen::date_time_ymd(2051, 5, 30);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let got = leaf(&first_pem_der(&cert.pem()).unwrap()).unwrap();
        assert_eq!(got.not_before, 1_772_323_200, "2026-03-01T00:00:00Z");
        // 2051 is past UTCTime's range: rcgen writes GeneralizedTime.
        assert_eq!(got.not_after, 2_569_017_600, "2051-05-30T00:00:00Z");
        assert_eq!(got.issuer, "Club Test CA");
        assert_eq!(got.dns_names, ["club.example", "portal.club.example"]);
        assert!(leaf(ca_cert.der()).unwrap().dns_names.is_empty());
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(leaf(b""), None);
        assert_eq!(leaf(&[0x30, 0x05, 0x30]), None);
        assert_eq!(first_pem_der("no pem here"), None);
    }
}
