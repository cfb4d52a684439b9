//! SVG logos through an allow-list: the upload is parsed as XML and written
//! out again from scratch, keeping only drawing elements and attributes.
//! Nothing the browser could run or fetch survives, whatever the parser
//! accepted, because every byte stored is one this module wrote.
//!
//! Active content (scripts, event handlers, animation, links to other
//! documents) is refused with a message rather than silently dropped, so an
//! admin learns why the logo looks different; editor metadata (Inkscape,
//! Illustrator) is dropped quietly.

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

/// Drawing elements kept as they are.
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "symbol",
    "use",
    "title",
    "desc",
    "style",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "textPath",
    "image",
    "linearGradient",
    "radialGradient",
    "stop",
    "pattern",
    "clipPath",
    "mask",
    "marker",
    "filter",
    "feBlend",
    "feColorMatrix",
    "feComposite",
    "feDropShadow",
    "feFlood",
    "feGaussianBlur",
    "feMerge",
    "feMergeNode",
    "feOffset",
];

/// Elements that run, animate or embed another document: refused.
const ACTIVE: &[&str] = &[
    "script",
    "foreignobject",
    "iframe",
    "embed",
    "object",
    "handler",
    "listener",
    "animate",
    "animatemotion",
    "animatetransform",
    "animatecolor",
    "set",
    "discard",
    "audio",
    "video",
];

/// Attributes kept (without namespace), besides `href` which is checked.
const ATTRIBUTES: &[&str] = &[
    "id",
    "class",
    "style",
    "version",
    "viewBox",
    "preserveAspectRatio",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "dx",
    "dy",
    "d",
    "points",
    "width",
    "height",
    "transform",
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-opacity",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "opacity",
    "color",
    "display",
    "visibility",
    "clip-path",
    "clip-rule",
    "clipPathUnits",
    "mask",
    "maskUnits",
    "maskContentUnits",
    "filter",
    "filterUnits",
    "primitiveUnits",
    "offset",
    "stop-color",
    "stop-opacity",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "patternUnits",
    "patternContentUnits",
    "patternTransform",
    "markerWidth",
    "markerHeight",
    "markerUnits",
    "refX",
    "refY",
    "orient",
    "marker-start",
    "marker-mid",
    "marker-end",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "font-variant",
    "text-anchor",
    "dominant-baseline",
    "alignment-baseline",
    "baseline-shift",
    "letter-spacing",
    "word-spacing",
    "text-decoration",
    "textLength",
    "lengthAdjust",
    "startOffset",
    "writing-mode",
    "shape-rendering",
    "text-rendering",
    "image-rendering",
    "color-interpolation-filters",
    "paint-order",
    "vector-effect",
    "in",
    "in2",
    "result",
    "mode",
    "type",
    "values",
    "operator",
    "k1",
    "k2",
    "k3",
    "k4",
    "stdDeviation",
    "flood-color",
    "flood-opacity",
    "media",
];

/// Why an SVG was refused: a stable code and words for the person who
/// uploaded it.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
}

/// Not a plain, well-formed SVG document.
pub const MALFORMED: &str = "svg_malformed";
/// Scripts, handlers, animation or script links.
pub const ACTIVE_CONTENT: &str = "svg_active_content";
/// Links, images or style sheets outside the file.
pub const OUTSIDE_REFERENCE: &str = "svg_outside_reference";

fn refuse(code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        code,
        message: message.into(),
    }
}

/// The SVG rewritten from the allow-list, or why it cannot be.
pub fn sanitize(text: &str) -> Result<String, Refused> {
    let doc = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            // Entities are how XML bombs and external fetches get in.
            allow_dtd: false,
            ..Default::default()
        },
    )
    .map_err(|e| match e {
        roxmltree::Error::DtdDetected => refuse(
            MALFORMED,
            "This SVG declares a DOCTYPE; export it without one.",
        ),
        _ => refuse(MALFORMED, "This SVG is not well-formed XML."),
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "svg" || !is_svg_ns(root) {
        return Err(refuse(MALFORMED, "The file's root element is not <svg>."));
    }
    let mut out = String::with_capacity(text.len());
    write_element(root, &mut out, true)?;
    Ok(out)
}

fn is_svg_ns(node: roxmltree::Node<'_, '_>) -> bool {
    matches!(node.tag_name().namespace(), None | Some(SVG_NS))
}

fn write_element(
    node: roxmltree::Node<'_, '_>,
    out: &mut String,
    root: bool,
) -> Result<(), Refused> {
    let name = node.tag_name().name();
    if ACTIVE.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(refuse(
            ACTIVE_CONTENT,
            format!("This SVG contains active content (<{name}>); export it as a plain image."),
        ));
    }
    if !is_svg_ns(node) || !ELEMENTS.contains(&name) {
        // Links keep their drawing, without the link.
        if name == "a" && is_svg_ns(node) {
            check_attributes(node)?;
            return write_children(node, out);
        }
        // Editor metadata and anything unknown: dropped with its subtree.
        return Ok(());
    }
    out.push('<');
    out.push_str(name);
    if root {
        out.push_str(" xmlns=\"");
        out.push_str(SVG_NS);
        out.push('"');
    }
    check_attributes(node)?;
    for attr in node.attributes() {
        let kept = match (attr.namespace(), attr.name()) {
            (None, "href") | (Some(XLINK_NS), "href") => Some("href"),
            (None, attr_name) if ATTRIBUTES.contains(&attr_name) => Some(attr_name),
            _ => None,
        };
        if let Some(attr_name) = kept {
            out.push(' ');
            out.push_str(attr_name);
            out.push_str("=\"");
            escape_into(attr.value(), out);
            out.push('"');
        }
    }
    out.push('>');
    write_children(node, out)?;
    out.push_str("</");
    out.push_str(name);
    out.push('>');
    Ok(())
}

fn write_children(node: roxmltree::Node<'_, '_>, out: &mut String) -> Result<(), Refused> {
    for child in node.children() {
        if child.is_element() {
            write_element(child, out, false)?;
        } else if child.is_text() {
            let text = child.text().unwrap_or_default();
            if node.tag_name().name() == "style" {
                check_css(text)?;
            }
            escape_into(text, out);
        }
    }
    Ok(())
}

/// Refuses handlers, script URLs and links that leave the document,
/// whatever namespace they are written in.
fn check_attributes(node: roxmltree::Node<'_, '_>) -> Result<(), Refused> {
    let element = node.tag_name().name();
    for attr in node.attributes() {
        let name = attr.name();
        let value = attr.value();
        if name.len() > 2 && name[..2].eq_ignore_ascii_case("on") {
            return Err(refuse(
                ACTIVE_CONTENT,
                format!("This SVG contains an event handler ({name}); export it as a plain image."),
            ));
        }
        let compact: String = value
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .collect::<String>()
            .to_ascii_lowercase();
        if compact.contains("javascript:") || compact.contains("vbscript:") {
            return Err(refuse(ACTIVE_CONTENT, "This SVG contains a script link."));
        }
        if name == "href" && !local_or_raster(element, &compact) {
            return Err(refuse(
                OUTSIDE_REFERENCE,
                "This SVG links to another document; only links inside the file (#id) and embedded PNG, JPEG or WebP images are allowed.",
            ));
        }
        if name == "style" {
            check_css(value)?;
        } else if compact.contains("url(") && !only_local_urls(&compact) {
            return Err(refuse(
                OUTSIDE_REFERENCE,
                "This SVG refers to an outside resource with url(…); only url(#id) is allowed.",
            ));
        }
    }
    Ok(())
}

/// `#id`, or for `<image>` an embedded raster image.
fn local_or_raster(element: &str, compact: &str) -> bool {
    compact.starts_with('#')
        || (element == "image"
            && ["data:image/png;", "data:image/jpeg;", "data:image/webp;"]
                .iter()
                .any(|p| compact.starts_with(p)))
}

fn only_local_urls(compact: &str) -> bool {
    compact.match_indices("url(").all(|(i, _)| {
        compact[i + 4..]
            .trim_start_matches(['"', '\''])
            .starts_with('#')
    })
}

/// Style sheets may colour and shape, not import or fetch.
fn check_css(css: &str) -> Result<(), Refused> {
    let compact: String = css
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    // CSS escapes could spell any of the words below in other letters.
    if compact.contains('\\')
        || compact.contains("@import")
        || compact.contains("expression(")
        || compact.contains("javascript:")
        || (compact.contains("url(") && !only_local_urls(&compact))
    {
        return Err(refuse(
            OUTSIDE_REFERENCE,
            "This SVG's styles import or fetch outside resources; only url(#id) is allowed.",
        ));
    }
    Ok(())
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(svg: &str) -> String {
        let r = sanitize(svg).expect_err(svg);
        format!("{}: {}", r.code, r.message)
    }

    #[test]
    fn drawing_is_kept_and_written_afresh() {
        let out = sanitize(
            "<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 8 8'>\
             <defs><linearGradient id='g'><stop offset='0' stop-color='#fff'/></linearGradient></defs>\
             <circle r='4' fill='url(#g)'/><text x='1'>A &amp; B</text></svg>",
        )
        .expect("sanitized");
        assert_eq!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 8 8\">\
             <defs><linearGradient id=\"g\"><stop offset=\"0\" stop-color=\"#fff\"></stop></linearGradient></defs>\
             <circle r=\"4\" fill=\"url(#g)\"></circle><text x=\"1\">A &amp; B</text></svg>"
        );
    }

    #[test]
    fn editor_metadata_is_dropped() {
        let out = sanitize(
            "<svg xmlns='http://www.w3.org/2000/svg' xmlns:inkscape='http://www.inkscape.org/namespaces/inkscape' \
             xmlns:xlink='http://www.w3.org/1999/xlink' inkscape:version='1.2' data-x='1'>\
             <metadata><rdf>x</rdf></metadata><sodipodi/><use xlink:href='#a'/><rect width='2'/></svg>",
        )
        .expect("sanitized");
        assert_eq!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><use href=\"#a\"></use><rect width=\"2\"></rect></svg>"
        );
    }

    #[test]
    fn active_content_is_refused_with_a_reason() {
        assert!(
            refused("<svg><script>alert(1)</script></svg>").starts_with("svg_active_content: ")
        );
        assert!(refused("<svg><script>alert(1)</script></svg>").contains("<script>"));
        assert!(refused("<svg onload='alert(1)'/>").contains("onload"));
        assert!(refused("<svg><g ONCLICK='x()'/></svg>").contains("ONCLICK"));
        assert!(
            refused("<svg><foreignObject><p/></foreignObject></svg>").contains("foreignObject")
        );
        assert!(
            refused("<svg><set attributeName='href' to='javascript:alert(1)'/></svg>")
                .contains("<set>")
        );
        assert!(refused("<svg><animate attributeName='x'/></svg>").contains("animate"));
        assert!(
            refused("<svg><a href='java&#x09;script:alert(1)'>x</a></svg>").contains("script link")
        );
        assert!(
            refused("<svg><a href='https://evil.example'>x</a></svg>")
                .starts_with("svg_outside_reference: ")
        );
        assert!(
            refused("<svg><a href='https://evil.example'>x</a></svg>").contains("another document")
        );
        assert!(
            refused("<svg><image href='https://evil.example/t.png'/></svg>")
                .contains("another document")
        );
        assert!(
            refused("<svg><image href='data:image/svg+xml;base64,PHN2Zz4='/></svg>")
                .contains("another document")
        );
        assert!(refused("<svg><rect fill='url(https://evil.example/x)'/></svg>").contains("url("));
        assert!(
            refused("<svg><style>@import 'https://evil.example/x.css';</style></svg>")
                .contains("styles")
        );
        assert!(
            refused("<svg><rect style='fill:url( \"//evil.example/x\")'/></svg>")
                .contains("styles")
        );
        assert!(refused("<svg><style>.a{b\\61ckground:url(x)}</style></svg>").contains("styles"));
    }

    #[test]
    fn documents_that_are_not_plain_svg_are_refused() {
        assert!(
            refused("<!DOCTYPE svg [<!ENTITY a 'b'>]><svg>&a;</svg>")
                .starts_with("svg_malformed: ")
        );
        assert!(refused("<!DOCTYPE svg [<!ENTITY a 'b'>]><svg>&a;</svg>").contains("DOCTYPE"));
        assert!(refused("<svg><g></svg>").contains("well-formed"));
        assert!(refused("<html><svg/></html>").contains("root"));
        assert!(refused("<svg xmlns='http://www.w3.org/1999/xhtml'/>").contains("root"));
    }

    #[test]
    fn raster_images_and_links_keep_their_drawing() {
        let out = sanitize(
            "<svg><a href='#top'><rect width='1'/></a><image href='data:image/png;base64,iVBOR'/>\
             <style>.c{fill:url(#g)}</style></svg>",
        )
        .expect("sanitized");
        assert_eq!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"1\"></rect>\
             <image href=\"data:image/png;base64,iVBOR\"></image><style>.c{fill:url(#g)}</style></svg>"
        );
    }
}
