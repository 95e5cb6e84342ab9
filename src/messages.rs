//! The message catalogue: every text the engine and its command line show to people —
//! diagnostics and their hints, the command line's messages, the fixed words of
//! traces — in English and in Chinese, from one catalogue in the
//! [Fluent](https://projectfluent.org) format (`i18n/en/mianshen.ftl`,
//! `i18n/zh/mianshen.ftl`, built into the crate).
//!
//! A text is built as a [`Message`] — an id of the catalogue and named arguments —
//! and rendered in a [`Lang`] when it is shown. Codes (`unknown-enum-value`) are not
//! texts: they are the same in every language, and hosts match on them.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::OnceLock;

/// The language messages are shown in: English (the default) or Chinese.
///
/// The library never reads the environment: a host (or the command line, from
/// `--lang` or the `LC_ALL`, `LC_MESSAGES` and `LANG` variables) chooses one, e.g. with
/// [`Lang::from_locale`].
///
/// ```
/// use mianshen::Lang;
/// assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
/// assert_eq!(Lang::from_locale("en_US.UTF-8"), Lang::En);
/// assert_eq!(Lang::from_locale("C"), Lang::En);
/// assert_eq!("zh".parse::<Lang>(), Ok(Lang::Zh));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Chinese (简体中文).
    Zh,
}

impl Lang {
    /// Every language of the catalogue.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The language of a POSIX locale name (`zh_CN.UTF-8`, `zh_TW`, `en_US.UTF-8`, `C`):
    /// Chinese for every `zh…` locale, English otherwise.
    pub fn from_locale(locale: &str) -> Lang {
        let lower = locale.trim().to_ascii_lowercase();
        if lower.starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The language's tag: `en` or `zh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Lang {
    type Err = String;

    /// `en` or `zh` (a locale name such as `zh_CN.UTF-8` too).
    fn from_str(s: &str) -> Result<Lang, String> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "en" || lower.starts_with("en_") || lower.starts_with("en-") {
            Ok(Lang::En)
        } else if lower == "zh" || lower.starts_with("zh_") || lower.starts_with("zh-") {
            Ok(Lang::Zh)
        } else {
            Err(format!("unknown language `{s}`: en or zh"))
        }
    }
}

/// A text of the catalogue: its id and its named arguments, rendered in a language
/// when shown ([`Message::render`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    id: &'static str,
    args: Vec<(&'static str, Arg)>,
}

/// The value of a message's argument: a text shown as it is (a name of the rules, a
/// number), or another message, rendered in the same language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Shown as it is, in every language.
    Text(String),
    /// Rendered in the language of the message it is an argument of.
    Msg(Message),
    /// Arguments rendered one after the other, with the message `sep` (`sep--comma`)
    /// between them.
    List(Vec<Arg>, &'static str),
}

impl Arg {
    /// The argument's text in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            Arg::Text(s) => s.clone(),
            Arg::Msg(m) => m.render(lang),
            Arg::List(items, sep) => items
                .iter()
                .map(|a| a.render(lang))
                .collect::<Vec<_>>()
                .join(&Message::new(sep).render(lang)),
        }
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<usize> for Arg {
    fn from(n: usize) -> Arg {
        Arg::Text(n.to_string())
    }
}

impl From<Message> for Arg {
    fn from(m: Message) -> Arg {
        Arg::Msg(m)
    }
}

impl std::fmt::Display for Message {
    /// The message in English.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl Message {
    /// The message `id` of the catalogue, without arguments yet.
    pub fn new(id: &'static str) -> Message {
        Message { id, args: vec![] }
    }

    /// Adds the argument `name` (`{ $name }` in the catalogue).
    pub fn arg(mut self, name: &'static str, value: impl Into<Arg>) -> Message {
        self.args.push((name, value.into()));
        self
    }

    /// The message's id in the catalogue.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The message's arguments, by name.
    pub fn args(&self) -> &[(&'static str, Arg)] {
        &self.args
    }

    /// The message in `lang`. A message the catalogue lacks in `lang` is shown in
    /// English; one it lacks altogether shows its id (the catalogue test keeps both
    /// complete).
    pub fn render(&self, lang: Lang) -> String {
        let mut args = FluentArgs::new();
        for (name, value) in &self.args {
            args.set(*name, FluentValue::from(value.render(lang)));
        }
        format(lang, self.id, &args)
            .or_else(|| format(Lang::En, self.id, &args))
            .unwrap_or_else(|| self.id.to_string())
    }
}

/// Builds a [`Message`]: `msg!("unknown-enum-value", name = value, enum = enum_name)`.
macro_rules! msg {
    ($id:expr $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::messages::Message::new($id)$(.arg(stringify!($name), $value))*
    };
}
pub(crate) use msg;

/// The text of message `id` with plain-text arguments, in `lang`.
pub fn text(lang: Lang, id: &'static str, args: &[(&'static str, &str)]) -> String {
    args.iter()
        .fold(Message::new(id), |m, &(name, value)| m.arg(name, value))
        .render(lang)
}

/// The catalogue's source in `lang` (the `.ftl` file).
pub fn catalogue(lang: Lang) -> &'static str {
    match lang {
        Lang::En => include_str!("../i18n/en/mianshen.ftl"),
        Lang::Zh => include_str!("../i18n/zh/mianshen.ftl"),
    }
}

type Bundle = FluentBundle<FluentResource>;

/// The catalogue of each language, parsed once.
fn bundle(lang: Lang) -> Option<&'static Bundle> {
    static EN: OnceLock<Option<Bundle>> = OnceLock::new();
    static ZH: OnceLock<Option<Bundle>> = OnceLock::new();
    let cell = match lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    };
    cell.get_or_init(|| {
        let id = lang.as_str().parse().ok()?;
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // Plain text for terminals and tests: no Unicode isolation marks around
        // the arguments.
        bundle.set_use_isolating(false);
        // A catalogue with a syntax error keeps the messages it could read (the
        // catalogue test refuses any error).
        let resource = match FluentResource::try_new(catalogue(lang).to_string()) {
            Ok(r) => r,
            Err((r, _)) => r,
        };
        let _ = bundle.add_resource(resource);
        Some(bundle)
    })
    .as_ref()
}

fn format(lang: Lang, id: &str, args: &FluentArgs) -> Option<String> {
    let bundle = bundle(lang)?;
    let pattern = bundle.get_message(id)?.value()?;
    let mut errors = vec![];
    Some(
        bundle
            .format_pattern(pattern, Some(args), &mut errors)
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_from_locales() {
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::from_locale("zh"), Lang::Zh);
        assert_eq!(Lang::from_locale("ZH_tw"), Lang::Zh);
        assert_eq!(Lang::from_locale("en_US.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale("C.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
        assert_eq!("en".parse::<Lang>(), Ok(Lang::En));
        assert!("fr".parse::<Lang>().is_err());
    }

    #[test]
    fn messages_render_without_isolation_marks() {
        let m = msg!("hint--did-you-mean", name = "hukou_region");
        assert_eq!(m.render(Lang::En), "did you mean `hukou_region`?");
        assert_eq!(m.render(Lang::Zh), "是否应为 `hukou_region`？");
        assert_eq!(
            Message::new("no-such-message").render(Lang::Zh),
            "no-such-message"
        );
    }
}
