//! Checks made on the raw document before xmlsec or any deserializer sees
//! it: no DTD (so no external entities and no entity expansion), and no
//! comment inside an element that also holds text (the CVE-2017-11427
//! class, where a comment splits a NameID and a parser reads half of it).

use super::SamlError;

/// Escapes text and attribute values for the XML we write.
pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Parses `xml` with roxmltree, which refuses DTDs by default.
pub(super) fn parse(xml: &str) -> Result<roxmltree::Document<'_>, SamlError> {
    roxmltree::Document::parse(xml).map_err(|e| match e {
        roxmltree::Error::DtdDetected => SamlError::Dtd,
        _ => SamlError::Malformed,
    })
}

/// Refuses a comment that sits beside text in the same element.
pub(super) fn no_comment_in_text(doc: &roxmltree::Document<'_>) -> Result<(), SamlError> {
    for node in doc.descendants().filter(|n| n.is_comment()) {
        let beside_text = node.parent().is_some_and(|p| {
            p.children()
                .any(|c| c.is_text() && !c.text().unwrap_or("").trim().is_empty())
        });
        if beside_text {
            return Err(SamlError::Comment);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dtd_is_refused_before_anything_reads_entities() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(parse(xxe).err(), Some(SamlError::Dtd));
        let bomb = r#"<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>"#;
        assert_eq!(parse(bomb).err(), Some(SamlError::Dtd));
        assert_eq!(parse("<r>").err(), Some(SamlError::Malformed));
    }

    #[test]
    fn a_comment_splitting_text_is_refused_and_one_between_elements_is_not() {
        let split = parse("<a><NameID>admin@example.com<!---->.evil.test</NameID></a>")
            .expect("test fixture");
        assert_eq!(no_comment_in_text(&split), Err(SamlError::Comment));
        let harmless =
            parse("<a><!-- generated --><NameID>a@example.com</NameID></a>").expect("test fixture");
        assert_eq!(no_comment_in_text(&harmless), Ok(()));
    }
}
