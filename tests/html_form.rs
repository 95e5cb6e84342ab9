//! The printable "one thing" form (`mianshen prefill … --html FILE`).
//!
//! Renders the B1 (失业一件事) and B3 (员工录用一件事) forms with the built binary for
//! the realistic records in `tests/fixtures/forms/`, and checks the page against the
//! `--json` result of the same run: self-contained (no http(s) references, no
//! scripts, no external resources), `lang="zh-CN"`, every prefilled label and value
//! present and marked 已预填, an empty box for every field to enter, the member
//! matters with their status, and the materials checklist.
//!
//! Then, when a Chromium is installed (`/usr/bin/chromium`, or `chromium` on PATH),
//! the page is printed to PDF and screenshotted headless, and the files are checked
//! to be produced and non-trivial. Without a browser that part prints
//! "skipped: no chromium installed" and passes (`.ci/install-browser` installs one).

use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch directory under the target's temp dir.
fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "html-form-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs `prefill --json --html` and returns (the JSON result, the HTML page, its path).
fn render(bundle: &str, record: &str, date: &str, dir: &Path) -> (Json, String, PathBuf) {
    let html_path = dir.join(format!("{bundle}.html"));
    let out = Command::new(env!("CARGO_BIN_EXE_mianshen"))
        // Messages in the default language, whatever the machine's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .args([
            "prefill", "rules/", "--bundle", bundle, record, "--date", date,
        ])
        .arg("--json")
        .arg("--html")
        .arg(&html_path)
        .current_dir(root())
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "prefill failed: {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let json: Json = serde_json::from_str(&stdout).expect("--json prints one object");
    let html = std::fs::read_to_string(&html_path).expect("--html wrote the page");
    (json, html, html_path)
}

/// HTML text escaping as a page must carry it.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Removes every tag, leaving the text.
fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Removes `<span …>…</span>` elements (tags and their text).
fn drop_spans(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("<span") {
        out.push_str(&rest[..i]);
        match rest[i..].find("</span>") {
            Some(j) => rest = &rest[i + j + "</span>".len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Inner HTML of the first `<tag …>…</tag>` in `s`.
fn inner<'a>(s: &'a str, tag: &str) -> Option<&'a str> {
    let open = s.find(&format!("<{tag}"))?;
    let body = open + s[open..].find('>')? + 1;
    let close = body + s[body..].find(&format!("</{tag}>"))?;
    Some(&s[body..close])
}

/// A table row: the whole row, its header cell and its first data cell (with the
/// data cell's opening tag, to read its class).
struct Row<'a> {
    all: &'a str,
    th: &'a str,
    td: &'a str,
    td_open: &'a str,
}

fn rows(html: &str) -> Vec<Row<'_>> {
    let mut out = vec![];
    for chunk in html.split("<tr").skip(1) {
        let all = match chunk.find("</tr>") {
            Some(end) => &chunk[..end],
            None => chunk,
        };
        let (Some(th), Some(td)) = (inner(all, "th"), inner(all, "td")) else {
            continue;
        };
        let td_start = all.find("<td").unwrap_or(0);
        let td_open = &all[td_start..td_start + all[td_start..].find('>').unwrap_or(0) + 1];
        out.push(Row {
            all,
            th,
            td,
            td_open,
        });
    }
    out
}

/// The rows whose header, without its tags and badges, is exactly `label`.
fn rows_labelled<'a>(rows: &'a [Row<'a>], label: &str) -> Vec<&'a Row<'a>> {
    let want = esc(label);
    rows.iter()
        .filter(|r| strip_tags(&drop_spans(r.th)).trim() == want)
        .collect()
}

fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Everything the page must show, checked against the JSON result of the same run.
fn check_page(json: &Json, html: &str, title: &str) {
    // Document basics.
    assert!(html.starts_with("<!DOCTYPE html>"), "not an HTML5 page");
    assert!(html.contains("<html lang=\"zh-CN\">"), "lang is not zh-CN");
    assert!(html.to_lowercase().contains("<meta charset=\"utf-8\">"));
    assert!(
        html.contains(&format!("<title>{}</title>", esc(title))),
        "<title> is not the bundle title {title}"
    );
    assert!(html.contains(&format!("<h1>{}</h1>", esc(title))));

    // Self-contained: nothing fetched, nothing run.
    let lower = html.to_lowercase();
    for bad in [
        "http://",
        "https://",
        "<script",
        "<link",
        "<iframe",
        "<object",
        "<embed",
        "<img",
        "@import",
        "url(",
        "javascript:",
        " onload=",
        " onclick=",
    ] {
        assert!(
            !lower.contains(bad),
            "the page is not self-contained: `{bad}`"
        );
    }
    assert!(
        !lower.contains("src=\""),
        "the page loads a resource (src=)"
    );

    let all = rows(html);

    // Members: one row each, in bundle order, with its status.
    let members = json["members"].as_object().expect("members");
    assert!(!members.is_empty());
    let start = html.find("可一次办理的事项").expect("a members section");
    let end = start
        + html[start..]
            .find("</table>")
            .expect("the members table ends");
    let member_rows: Vec<Row> = rows(&html[start..end])
        .into_iter()
        .filter(|r| !r.td.contains("<b>"))
        .collect();
    assert_eq!(member_rows.len(), members.len(), "one row per member");
    for ((key, status), row) in members.iter().zip(&member_rows) {
        let outcome = match status {
            Json::String(s) => s.as_str(),
            other => other["outcome"]
                .as_str()
                .expect("a decision has an outcome"),
        };
        let status_zh = match outcome {
            "available" | "eligible" => "可办理",
            "not_available" | "not_eligible" => "暂不符合",
            _ => "待核实",
        };
        assert!(
            row.td.contains(status_zh),
            "member {key} ({outcome}) is not shown as {status_zh}: {}",
            row.all
        );
        assert!(
            !strip_tags(row.th).trim().is_empty(),
            "member {key} has no label"
        );
    }

    // Prefilled fields: label, value, 已预填, and a source.
    let prefilled = json["prefilled"].as_array().expect("prefilled");
    assert!(
        !prefilled.is_empty(),
        "nothing prefilled in a realistic record"
    );
    for f in prefilled {
        let label = f["label"].as_str().expect("label");
        // The form shows an enum value's label where the schema gives one.
        let value = match f.get("display") {
            Some(d) => text_of(d),
            None => text_of(&f["value"]),
        };
        let found = rows_labelled(&all, label);
        assert_eq!(
            found.len(),
            1,
            "prefilled field {label}: {} rows",
            found.len()
        );
        let row = found[0];
        assert!(
            row.td.contains(&esc(&value)),
            "prefilled field {label}: value {value} not shown: {}",
            row.all
        );
        assert!(
            row.all.contains("已预填"),
            "prefilled field {label} is not marked 已预填: {}",
            row.all
        );
        assert!(
            !row.all.contains("请填写"),
            "{label} is both prefilled and to enter"
        );
        let source = f["source"].as_str().expect("source");
        assert!(
            row.td.contains(&esc(source)),
            "prefilled field {label}: its source {source} is not shown"
        );
    }

    // Fields to enter: label and an empty box, not marked prefilled.
    let to_enter = json["to_enter"].as_array().expect("to_enter");
    assert!(!to_enter.is_empty(), "a form always has fields to enter");
    for f in to_enter {
        let label = f["label"].as_str().expect("label");
        let found = rows_labelled(&all, label);
        assert_eq!(
            found.len(),
            1,
            "field to enter {label}: {} rows",
            found.len()
        );
        let row = found[0];
        assert!(
            strip_tags(row.td).trim().is_empty(),
            "field to enter {label}: its box is not empty: {}",
            row.all
        );
        assert!(
            row.td_open.contains("enter"),
            "field to enter {label}: the cell is not an entry box: {}",
            row.td_open
        );
        assert!(!row.all.contains("已预填"), "{label} is marked 已预填");
    }
    // Every 已预填 badge in a row belongs to a prefilled field (the legend is no row).
    let marked = all.iter().filter(|r| r.all.contains("已预填")).count();
    assert_eq!(marked, prefilled.len(), "rows marked 已预填");
    // Form order: prefilled fields and then the fields to enter, each in form order.
    let mut last = 0;
    for f in prefilled.iter().chain(to_enter) {
        let label = format!("<th>{}", esc(f["label"].as_str().unwrap_or_default()));
        let at = html[last..]
            .find(&label)
            .unwrap_or_else(|| panic!("{label} out of form order"));
        last += at + label.len();
    }

    // The materials checklist: every material with held → 免于提交, else 需提交.
    assert!(html.contains("材料清单"), "no materials checklist");
    let materials = json["materials"].as_array().expect("materials");
    assert!(!materials.is_empty(), "a realistic form lists materials");
    for m in materials {
        let label = m["label"].as_str().expect("label");
        let found = rows_labelled(&all, label);
        assert_eq!(found.len(), 1, "material {label}: {} rows", found.len());
        let row = found[0];
        assert!(
            row.th.contains("class=\"box\""),
            "material {label} has no tick box"
        );
        if m["held"].as_bool() == Some(true) {
            assert!(
                row.td.contains("免于提交"),
                "held material {label}: {}",
                row.all
            );
        } else {
            assert!(
                row.td.contains("需提交") && !row.td.contains("免于提交"),
                "material to submit {label}: {}",
                row.all
            );
        }
    }

    // A4 print styles.
    assert!(html.contains("@page"), "no print page rule");
}

/// A sensitive value appears once in the page: in its field, nowhere else.
fn appears_once(html: &str, value: &str) {
    assert_eq!(
        html.matches(value).count(),
        1,
        "{value} should appear once, in its field"
    );
}

// ------------------------------------------------------------------ the browser part

/// `/usr/bin/chromium`, or `chromium` on PATH.
fn find_chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
}

/// Whether fontconfig knows a font covering Chinese (unknown → assumed yes).
fn has_cjk_font() -> bool {
    match Command::new("fc-list")
        .args([":lang=zh", "family"])
        .output()
    {
        Ok(out) if out.status.success() => !String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        _ => true,
    }
}

/// Runs headless Chromium with `extra` flags on `page`, with a time limit.
fn chromium(browser: &Path, page: &Path, dir: &Path, extra: &str) {
    let profile = dir.join(format!(
        "profile-{}",
        extra
            .trim_start_matches("--")
            .split('=')
            .next()
            .unwrap_or("x")
    ));
    std::fs::create_dir_all(&profile).expect("profile dir");
    let url = format!("file://{}", page.display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            "--window-size=1240,1754",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(extra)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                assert!(status.success(), "chromium {extra} failed: {status}\n{err}");
                return;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium {extra} did not finish within 120 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Prints the page to PDF and screenshots it; checks both files.
fn print_and_screenshot(page: &Path, dir: &Path, name: &str) {
    let Some(browser) = find_chromium() else {
        println!("skipped: no chromium installed");
        return;
    };
    // The Chinese text needs a CJK font (Debian: fonts-noto-cjk); without one every
    // Chinese glyph renders as a box. That is the machine's setup, not the page's:
    // say so loudly, and go on (.ci/install-browser installs the font).
    if !has_cjk_font() {
        println!(
            "warning: no CJK font installed (fc-list :lang=zh is empty): the Chinese \
             text renders as boxes; install the Debian package fonts-noto-cjk"
        );
    }
    let pdf = dir.join(format!("{name}.pdf"));
    let png = dir.join(format!("{name}.png"));
    chromium(
        &browser,
        page,
        dir,
        &format!("--print-to-pdf={}", pdf.display()),
    );
    chromium(
        &browser,
        page,
        dir,
        &format!("--screenshot={}", png.display()),
    );

    let pdf_bytes = std::fs::read(&pdf).expect("the PDF was written");
    assert!(
        pdf_bytes.starts_with(b"%PDF-"),
        "{} is not a PDF",
        pdf.display()
    );
    assert!(
        pdf_bytes.len() > 10_000,
        "{} is trivially small ({} bytes)",
        pdf.display(),
        pdf_bytes.len()
    );
    let tail = &pdf_bytes[pdf_bytes.len().saturating_sub(64)..];
    assert!(
        tail.windows(5).any(|w| w == b"%%EOF"),
        "{} is truncated",
        pdf.display()
    );
    let png_bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(
        png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        png.display()
    );
    let be32 = |at: usize| u32::from_be_bytes(png_bytes[at..at + 4].try_into().unwrap());
    assert_eq!(&png_bytes[12..16], b"IHDR");
    assert_eq!((be32(16), be32(20)), (1240, 1754), "screenshot size");
    // A blank page compresses to a few KB; a drawn form is far larger.
    assert!(
        png_bytes.len() > 30_000,
        "{} looks blank ({} bytes)",
        png.display(),
        png_bytes.len()
    );
    println!(
        "rendered {name}: {} ({} bytes), {} ({} bytes)",
        pdf.display(),
        pdf_bytes.len(),
        png.display(),
        png_bytes.len()
    );
}

// ------------------------------------------------------------------ the forms

#[test]
fn b1_unemployment_form() {
    let dir = scratch("b1");
    let (json, html, page) = render(
        "bundle-unemployment",
        "tests/fixtures/forms/b1-unemployed.yaml",
        "2025-09-01",
        &dir,
    );
    check_page(&json, &html, "失业一件事（上海）");

    // What this record shows: everything on file is prefilled, the phone (null) and
    // the intentions are entered, the bank account comes from the active card.
    let keys = |k: &str| -> Vec<String> {
        json[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        keys("prefilled"),
        [
            "name",
            "id_number",
            "hukou_region",
            "last_employer",
            "separation_date",
            "separation_reason",
            "ui_months",
            "bank_account"
        ]
    );
    assert_eq!(
        keys("to_enter"),
        ["phone", "job_intention", "training_intention"]
    );
    // The employer's "&" is escaped, the benefit's amount is shown.
    assert!(html.contains("上海A&amp;B国际货运代理有限公司"));
    assert!(html.contains("13830.00"), "the benefit amount is shown");
    // Sensitive values: once, in their fields.
    appears_once(&html, "310101198004120012");
    appears_once(&html, "6217000000000000011");

    print_and_screenshot(&page, &dir, "b1-unemployment");
}

#[test]
fn b3_employee_hiring_form() {
    let dir = scratch("b3");
    let (json, html, page) = render(
        "bundle-employee-hiring",
        "tests/fixtures/forms/b3-hire.yaml",
        "2025-10-20",
        &dir,
    );
    check_page(&json, &html, "员工录用一件事");

    let keys = |k: &str| -> Vec<String> {
        json[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        keys("prefilled"),
        [
            "credit_code",
            "employer_name",
            "hire_name",
            "hire_id_number",
            "contract_start_date",
            "monthly_wage",
            "education_level"
        ]
    );
    assert_eq!(keys("to_enter"), ["contract_end_date", "position"]);
    assert!(html.contains("8000.00"), "the wage keeps two decimals");
    assert!(html.contains("1500.00"), "the 扩岗补助 amount is shown");
    appears_once(&html, "310115200305120013");

    print_and_screenshot(&page, &dir, "b3-employee-hiring");
}
