//! Checks made on the raw document before xmlsec or any deserializer sees
//! it: a bounded size and depth, no DTD (so no external entities and no
//! entity expansion), no comment inside an element that also holds text
//! (the CVE-2017-11427 class, where a comment splits a NameID and a parser
//! reads half of it), and signatures of the one shape SAML uses: a single
//! same-document reference to the element they sit in, with only the
//! enveloped-signature and exclusive-c14n transforms. xmlsec dereferences
//! and transforms whatever a reference names *before* it checks a key, so
//! anything else would let an unauthenticated post make the server fetch
//! URLs (bypassing the SSRF guard) or read files.

use super::SamlError;

pub(super) const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// Exclusive canonicalization, without and with comments: what SAML IdPs
/// sign with (a comment beside text is refused on its own).
const C14N_ALLOWED: [&str; 2] = [
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
];
/// The largest SAML document accepted (a response with hundreds of group
/// values is a few tens of KiB).
pub(super) const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// The deepest element nesting accepted; an encrypted, signed response
/// needs about ten levels.
pub(super) const MAX_DEPTH: usize = 32;

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

/// [`parse`] for a message anyone can post: refused past
/// [`MAX_DOCUMENT_BYTES`] before parsing and past [`MAX_DEPTH`] after.
pub(super) fn parse_bounded(xml: &str) -> Result<roxmltree::Document<'_>, SamlError> {
    if xml.len() > MAX_DOCUMENT_BYTES {
        return Err(SamlError::TooLarge);
    }
    let doc = parse(xml)?;
    // Ancestors counted only up to the limit: bounded work per element.
    let too_deep = doc
        .descendants()
        .filter(roxmltree::Node::is_element)
        .any(|n| n.ancestors().take(MAX_DEPTH + 2).count() > MAX_DEPTH + 1);
    if too_deep {
        return Err(SamlError::TooLarge);
    }
    Ok(doc)
}

fn is_dsig(node: &roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.has_tag_name((DSIG_NS, name))
}

fn elements<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children().filter(roxmltree::Node::is_element)
}

/// Refuses every signature that is not one same-document reference to the
/// element holding it, and every XML-DSig construct that makes xmlsec
/// dereference anything: `Object`/`Manifest` (their references are
/// processed too), `RetrievalMethod`, transforms other than
/// enveloped-signature and exclusive c14n (XPath, XSLT, base64 …).
pub(super) fn signatures_reference_only_their_element(
    doc: &roxmltree::Document<'_>,
) -> Result<(), SamlError> {
    for node in doc.descendants().filter(roxmltree::Node::is_element) {
        if node.tag_name().namespace() != Some(DSIG_NS) {
            continue;
        }
        match node.tag_name().name() {
            "Object" | "Manifest" | "RetrievalMethod" => return Err(SamlError::SignatureShape),
            "Signature" => check_signature(doc, node)?,
            _ => {}
        }
    }
    Ok(())
}

fn check_signature(
    doc: &roxmltree::Document<'_>,
    sig: roxmltree::Node<'_, '_>,
) -> Result<(), SamlError> {
    let bad = || SamlError::SignatureShape;
    let signed = sig.parent_element().ok_or_else(bad)?;
    let id = signed
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(bad)?;
    // Two elements with one ID is signature wrapping, whichever xmlsec
    // would pick.
    let holders = doc
        .descendants()
        .filter(|n| n.is_element() && n.attributes().any(|a| a.name() == "ID" && a.value() == id))
        .count();
    if holders != 1 {
        return Err(SamlError::Wrapping);
    }
    let mut parts = elements(sig);
    let signed_info = parts
        .next()
        .filter(|n| is_dsig(n, "SignedInfo"))
        .ok_or_else(bad)?;
    for part in parts {
        if is_dsig(&part, "SignatureValue") {
            continue;
        }
        if is_dsig(&part, "KeyInfo") {
            check_key_info(part)?;
            continue;
        }
        return Err(bad());
    }
    let info: Vec<_> = elements(signed_info).collect();
    let [c14n, method, reference] = info.as_slice() else {
        return Err(bad());
    };
    if !is_dsig(c14n, "CanonicalizationMethod")
        || !is_dsig(method, "SignatureMethod")
        || !is_dsig(reference, "Reference")
    {
        return Err(bad());
    }
    check_c14n(*c14n)?;
    if elements(*method).next().is_some() {
        return Err(bad());
    }
    if reference.attribute("URI") != Some(format!("#{id}").as_str()) {
        return Err(bad());
    }
    let mut reference_parts = elements(*reference).peekable();
    if let Some(transforms) = reference_parts.next_if(|n| is_dsig(n, "Transforms")) {
        for transform in elements(transforms) {
            if !is_dsig(&transform, "Transform") {
                return Err(bad());
            }
            match transform.attribute("Algorithm") {
                Some(ENVELOPED) if elements(transform).next().is_none() => {}
                Some(a) if C14N_ALLOWED.contains(&a) => check_inclusive_namespaces(transform)?,
                _ => return Err(bad()),
            }
        }
    }
    let rest: Vec<_> = reference_parts.collect();
    match rest.as_slice() {
        [digest, value] if is_dsig(digest, "DigestMethod") && is_dsig(value, "DigestValue") => {
            Ok(())
        }
        _ => Err(bad()),
    }
}

fn check_c14n(node: roxmltree::Node<'_, '_>) -> Result<(), SamlError> {
    match node.attribute("Algorithm") {
        Some(a) if C14N_ALLOWED.contains(&a) => check_inclusive_namespaces(node),
        _ => Err(SamlError::SignatureShape),
    }
}

/// Exclusive c14n may name namespaces to keep, and nothing else.
fn check_inclusive_namespaces(node: roxmltree::Node<'_, '_>) -> Result<(), SamlError> {
    let ok = elements(node).all(|c| c.has_tag_name((EXC_C14N_NS, "InclusiveNamespaces")));
    if ok {
        Ok(())
    } else {
        Err(SamlError::SignatureShape)
    }
}

/// The key a signature names can only be one given inline (it is not used
/// to verify anyway: the connection's certificates are).
fn check_key_info(node: roxmltree::Node<'_, '_>) -> Result<(), SamlError> {
    for part in elements(node) {
        let inline = ["X509Data", "KeyName", "KeyValue"]
            .iter()
            .any(|name| is_dsig(&part, name));
        if !inline {
            return Err(SamlError::SignatureShape);
        }
    }
    Ok(())
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
