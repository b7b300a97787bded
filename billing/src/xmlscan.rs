//! A scanner for the simple XML documents ewoda reads (NBP rate tables, KSeF UPOs): tags,
//! attributes and text with their positions; no DTDs, CDATA or entities in the values read.

/// One piece of an XML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// `<name attrs>` (also the start of `<name/>`), the name without its namespace prefix.
    Open(&'a str, &'a str),
    /// `</name>` (also the end of `<name/>`).
    Close(&'a str),
    /// Trimmed non-empty text between tags.
    Text(&'a str),
}

/// The 1-based line of a byte offset.
pub(crate) fn line_of(xml: &str, at: usize) -> usize {
    xml[..at.min(xml.len())].matches('\n').count() + 1
}

/// Splits XML into tags and text with the byte offset of each; Err(line) of a tag that is
/// never closed.
pub(crate) fn xml_tokens(xml: &str) -> Result<Vec<(usize, Tok<'_>)>, usize> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(lt) = xml[rest..].find('<').map(|i| rest + i) {
        let text = xml[rest..lt].trim();
        if !text.is_empty() {
            out.push((rest, Tok::Text(text)));
        }
        let (end_marker, skip) = if xml[lt..].starts_with("<!--") {
            ("-->", true)
        } else if xml[lt..].starts_with("<?") || xml[lt..].starts_with("<!") {
            (">", true)
        } else {
            (">", false)
        };
        let gt = xml[lt..]
            .find(end_marker)
            .map(|i| lt + i)
            .ok_or_else(|| line_of(xml, lt))?;
        rest = gt + end_marker.len();
        if skip {
            continue;
        }
        let inner = &xml[lt + 1..gt];
        if let Some(name) = inner.strip_prefix('/') {
            out.push((lt, Tok::Close(local(name.trim()))));
            continue;
        }
        let self_closing = inner.ends_with('/');
        let inner = inner.trim_end_matches('/');
        let (name, attrs) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
        out.push((lt, Tok::Open(local(name), attrs)));
        if self_closing {
            out.push((lt, Tok::Close(local(name))));
        }
    }
    Ok(out)
}

/// `ns:Name` → `Name`.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// The value of `key="…"` (or `'…'`) in a tag's attributes.
pub(crate) fn attr<'a>(attrs: &'a str, key: &str) -> Option<&'a str> {
    let at = attrs.find(&format!("{key}="))? + key.len() + 1;
    let quote = attrs[at..].chars().next()?;
    let value = &attrs[at + 1..];
    value.find(quote).map(|end| &value[..end])
}

/// One record: its line and the text of its wanted fields by element name.
pub(crate) type Record<'a> = (usize, std::collections::HashMap<String, &'a str>);

/// The text of each `element` inside each `record` element, in order: one map per record.
pub(crate) fn records<'a>(
    xml: &'a str,
    record: &str,
    fields: &[&str],
) -> Result<Vec<Record<'a>>, usize> {
    let mut out = Vec::new();
    let mut current: Option<Record<'a>> = None;
    let mut open: Option<&str> = None;
    for (at, tok) in xml_tokens(xml)? {
        match tok {
            Tok::Open(name, _) if name == record => {
                current = Some((line_of(xml, at), Default::default()))
            }
            Tok::Open(name, _) => open = Some(name),
            Tok::Text(text) => {
                if let (Some((_, map)), Some(name)) = (current.as_mut(), open) {
                    if fields.contains(&name) {
                        map.insert(name.to_string(), text);
                    }
                }
            }
            Tok::Close(name) if name == record => out.extend(current.take()),
            Tok::Close(_) => open = None,
        }
    }
    Ok(out)
}
