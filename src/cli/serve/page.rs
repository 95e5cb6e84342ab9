//! `GET /`: the page for policy staff, its fixed words in the language of the request.
//!
//! The language: the first language of the request's `Accept-Language` when it is
//! Chinese (`zh…`) or English (`en…`); otherwise the language the service was started
//! with (`--lang`, else `LC_ALL`, `LC_MESSAGES`, `LANG`, else English). The words come
//! from the message catalogue (`serve-page--…`); the JSON the page reads is the same in
//! every language.

use mianshen::internals::{escape, messages};
use mianshen::Lang;
use std::sync::OnceLock;

/// The page's words: the name the template uses (`{{name}}` in its HTML, `W.name` in
/// its script) and the catalogue id.
const WORDS: &[(&str, &str)] = &[
    ("html_lang", "serve-page--html-lang"),
    ("title", "serve-page--title"),
    ("pick", "serve-page--pick"),
    ("record", "serve-page--record"),
    ("date", "serve-page--date"),
    ("decide", "serve-page--decide"),
    ("prefill", "serve-page--prefill"),
    ("record_json", "serve-page--record-json"),
    ("rule_set", "serve-page--rule-set"),
    ("in_force", "serve-page--in-force"),
    ("amount_in", "serve-page--amount-in"),
    ("clause", "serve-page--clause"),
    ("condition", "serve-page--condition"),
    ("member", "serve-page--member"),
    ("form", "serve-page--form"),
    ("example", "serve-page--example"),
    ("at", "serve-page--at"),
    ("eligible", "serve-page--eligible"),
    ("not_eligible", "serve-page--not-eligible"),
    ("undetermined", "serve-page--undetermined"),
    ("amount", "serve-page--amount"),
    ("failed", "serve-page--failed"),
    ("missing", "serve-page--missing"),
    ("facts", "serve-page--facts"),
    ("not_json", "serve-page--not-json"),
    ("form_title", "serve-page--form-title"),
    ("policies", "serve-page--policies"),
    ("bundles", "serve-page--bundles"),
];

/// The language of a request: its `Accept-Language` when the first language listed is
/// Chinese or English, else the service's.
pub fn lang_of(accept_language: Option<&str>, service: Lang) -> Lang {
    let first = accept_language
        .and_then(|v| v.split(',').next())
        .map(|tag| {
            tag.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if first == "zh" || first.starts_with("zh-") {
        Lang::Zh
    } else if first == "en" || first.starts_with("en-") {
        Lang::En
    } else {
        service
    }
}

/// The `Content-Language` of the page in `lang`.
pub fn content_language(lang: Lang) -> String {
    messages::text(lang, "serve-page--html-lang", &[])
}

/// The page in `lang`, made once per language.
pub fn page(lang: Lang) -> &'static str {
    static EN: OnceLock<String> = OnceLock::new();
    static ZH: OnceLock<String> = OnceLock::new();
    match lang {
        Lang::Zh => ZH.get_or_init(|| render(Lang::Zh)),
        _ => EN.get_or_init(|| render(Lang::En)),
    }
}

fn render(lang: Lang) -> String {
    let mut page = include_str!("page.html").to_string();
    let mut words = serde_json::Map::new();
    for (name, id) in WORDS {
        let text = messages::text(lang, id, &[]);
        page = page.replace(&format!("{{{{{name}}}}}"), &escape::html(&text));
        words.insert((*name).to_string(), text.into());
    }
    // In a script: no `<` that could close it.
    let json = serde_json::to_string(&words)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    page.replace("/*WORDS*/{}", &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_language_wins_when_it_is_one_of_ours() {
        assert_eq!(lang_of(Some("zh-CN,zh;q=0.9,en;q=0.8"), Lang::En), Lang::Zh);
        assert_eq!(lang_of(Some("en-GB,en;q=0.9"), Lang::Zh), Lang::En);
        assert_eq!(lang_of(Some("fr-FR,zh;q=0.5"), Lang::Zh), Lang::Zh);
        assert_eq!(lang_of(Some("*"), Lang::En), Lang::En);
        assert_eq!(lang_of(None, Lang::Zh), Lang::Zh);
        assert_eq!(lang_of(Some("zhx"), Lang::En), Lang::En);
    }

    #[test]
    fn every_placeholder_is_filled() {
        for lang in [Lang::En, Lang::Zh] {
            let p = page(lang);
            assert!(
                !p.contains("{{"),
                "{lang}: {}",
                &p[p.find("{{").unwrap()..][..40]
            );
            assert!(!p.contains("/*WORDS*/"));
            assert!(
                !p.contains("serve-page--"),
                "{lang}: an id not in the catalogue"
            );
        }
        assert!(page(Lang::Zh).contains("lang=\"zh-CN\""));
        assert!(page(Lang::En).contains("lang=\"en\""));
    }
}
