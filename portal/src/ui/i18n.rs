//! Translations: fluent resources `locales/pl.ftl` and `locales/en.ftl`, embedded. Plurals
//! follow each language's CLDR rules (Polish: one / few / many / other), so a text with a
//! count is written as a fluent select on `$count`.

use super::Lang;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// Embedded sources, so tests can check both languages define the same ids.
pub const PL_FTL: &str = include_str!("locales/pl.ftl");
pub const EN_FTL: &str = include_str!("locales/en.ftl");

/// The bundles of both languages.
pub struct I18n {
    pl: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

impl I18n {
    /// Loads the embedded resources. They are part of the program, so a syntax error in them
    /// is a bug caught by the tests, not a runtime condition.
    pub fn load() -> Self {
        I18n {
            pl: bundle("pl", PL_FTL),
            en: bundle("en", EN_FTL),
        }
    }

    /// The text of `id` in `lang`; a missing id shows as the id itself (and is logged).
    pub fn text(&self, lang: Lang, id: &str, args: Option<&FluentArgs>) -> String {
        let bundle = match lang {
            Lang::Pl => &self.pl,
            Lang::En => &self.en,
        };
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::warn!(id, lang = lang.code(), "missing translation");
            return id.to_string();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(id, ?errors, "translation formatting");
        }
        text.into_owned()
    }

    /// Whether `id` exists in `lang`.
    pub fn has(&self, lang: Lang, id: &str) -> bool {
        match lang {
            Lang::Pl => self.pl.has_message(id),
            Lang::En => self.en.has_message(id),
        }
    }
}

fn bundle(lang: &str, source: &str) -> FluentBundle<FluentResource> {
    let resource = FluentResource::try_new(source.to_string())
        .unwrap_or_else(|(_, e)| panic!("locales/{lang}.ftl does not parse: {e:?}"));
    let langid: unic_langid::LanguageIdentifier =
        lang.parse().expect("a valid language identifier");
    let mut bundle = FluentBundle::new_concurrent(vec![langid]);
    // Unicode isolation marks would show up inside HTML attributes and tests.
    bundle.set_use_isolating(false);
    if let Err(e) = bundle.add_resource(resource) {
        panic!("locales/{lang}.ftl defines a message twice: {e:?}");
    }
    bundle
}
