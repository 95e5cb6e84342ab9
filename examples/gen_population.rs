//! A deterministic synthetic population for the no-application batch (`mianshen run`).
//!
//! ```text
//! cargo run --release --example gen_population -- N SEED > examples/population.jsonl
//! ```
//!
//! Writes N person records followed by about N/10 enterprise records (0–6 hires each),
//! one JSON object per line. The same N and SEED give the same bytes: every record
//! draws from its own splitmix64 stream derived from (SEED, kind, index), so nothing
//! depends on hash-map order, threads or the platform.
//!
//! The population imitates what the registers of a large Chinese city (上海) hold
//! about its residents, with some 北京 / 苏州 / other-city hukou holders so that the
//! Beijing and Suzhou policies of the shipped rule set have subjects:
//!
//! * ages 0–100 following an aged urban pyramid; gender, hukou region, education by
//!   cohort; employment status, unemployment registration, separation reasons;
//! * 人社 social-insurance histories (unemployment insurance months, earlier claims,
//!   employee / resident pensions, flexible-employment contributions), 就业困难 status,
//!   skill certificates (earlier ones paid, the newest one open);
//! * 残联 disability certificates, 民政 低保 / 特困 households with members, incomes and
//!   assets, children under 3 (育儿补贴), grandparents, orphans;
//! * 市场监管 business registrations (graduate and 就业困难 founders, ordinary owners);
//! * enterprises with unemployment-insurance data, previous-year headcounts and hires
//!   of varied profiles (new graduates, registered unemployed youth, 就业困难 hires,
//!   ordinary hires).
//!
//! On purpose the data also contain
//! * a few percent of records with a *gap*: a field that the rules need is absent or
//!   null, so that `undetermined` decisions occur (the number of records with a gap is
//!   printed on stderr);
//! * a few boundary values (a 65th birthday on 2025-07-01, a per-capita income of
//!   exactly 1450, a layoff rate of exactly 5.5 %, …);
//! * about 0.5 % malformed lines (bad JSON, a wrong type, an unknown enum value) for
//!   `rejected.jsonl`;
//! * two records whose decisions are evaluation errors by the policy texts (two open
//!   skill certificates; an enterprise with 0 average insured in the previous year).
//!
//! Not avoidable by the data: as the shipped rules are written, `ui-skill-upgrade-subsidy`
//! is an evaluation error for every person with no open certificate (unless C1 is false)
//! and `startup-one-time-subsidy` for every full-time graduate or 就业困难 person with no
//! business registration (`the …` / `latest …` over no item, policies.md §0.1 item 6).
//!
//! Names, ID numbers, phone and account numbers are synthetic: drawn from the
//! generator's PRNG, they belong to nobody.

use chrono::{Datelike, Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::io::{self, BufWriter, Write};

// ---------------------------------------------------------------------------
// PRNG

/// splitmix64: tiny, fast, good enough for synthetic data, identical everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, kind: u64, index: u64) -> Rng {
        let mut r = Rng(seed
            ^ kind.wrapping_mul(0xD1B5_4A32_D192_ED03)
            ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
        r.next();
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    /// Uniform integer in [lo, hi].
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
    fn weighted<T: Copy>(&mut self, xs: &[(T, f64)]) -> T {
        let total: f64 = xs.iter().map(|x| x.1).sum();
        let mut u = self.f() * total;
        for &(v, w) in xs {
            if u < w {
                return v;
            }
            u -= w;
        }
        xs[xs.len() - 1].0
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Dates and money

/// The snapshot date of the registers (the batch runs on 2025-06-30 and 2025-07-01).
fn snap() -> NaiveDate {
    d(2025, 7, 1)
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
}

fn add_days(x: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        x.checked_add_days(Days::new(n as u64))
            .expect("date in range")
    } else {
        x.checked_sub_days(Days::new((-n) as u64))
            .expect("date in range")
    }
}

/// Adds months keeping the day, clamped to the end of a shorter month.
fn add_months(x: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        x.checked_add_months(Months::new(n as u32))
            .expect("date in range")
    } else {
        x.checked_sub_months(Months::new((-n) as u32))
            .expect("date in range")
    }
}

/// The anniversary of `b` in `year` (29 February → 28 February in common years).
fn anniversary(b: NaiveDate, year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, b.month(), b.day()).unwrap_or_else(|| d(year, 2, 28))
}

fn age_on(b: NaiveDate, x: NaiveDate) -> i64 {
    let years = (x.year() - b.year()) as i64;
    if x >= anniversary(b, x.year()) {
        years
    } else {
        years - 1
    }
}

fn month_diff(a: NaiveDate, b: NaiveDate) -> i64 {
    (b.year() as i64 * 12 + b.month() as i64) - (a.year() as i64 * 12 + a.month() as i64)
}

fn rand_date(r: &mut Rng, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
    let span = (hi - lo).num_days();
    add_days(lo, r.range(0, span.max(0)))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cat {
    Cadre55,
    Worker50,
}

impl Cat {
    fn name(self) -> &'static str {
        match self {
            Cat::Cadre55 => "cadre55",
            Cat::Worker50 => "worker50",
        }
    }
}

/// Statutory retirement date (policies.md §15); None for a woman without a category.
fn retirement(female: bool, birth: NaiveDate, cat: Option<Cat>) -> Option<NaiveDate> {
    let (age, start, step, max) = if !female {
        (60, d(1965, 1, 1), 4, 36)
    } else {
        match cat? {
            Cat::Cadre55 => (55, d(1970, 1, 1), 4, 36),
            Cat::Worker50 => (50, d(1975, 1, 1), 2, 60),
        }
    };
    let k = month_diff(start, birth);
    let delay = if k < 0 { 0 } else { (k / step + 1).min(max) };
    Some(add_months(birth, age * 12 + delay))
}

fn date_v(x: NaiveDate) -> Value {
    Value::String(x.format("%Y-%m-%d").to_string())
}

/// A money amount given in cents, written as an exact JSON number with two decimals.
fn money(cents: i64) -> Value {
    dec(Decimal::new(cents, 2))
}

fn dec(x: Decimal) -> Value {
    Value::Number(x.to_string().parse().expect("a decimal is a JSON number"))
}

// ---------------------------------------------------------------------------
// Names and synthetic identifiers

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "沈", "陆", "顾", "钱", "蒋", "蔡", "姚", "施", "汪", "范", "金", "俞", "叶", "程", "苏", "袁",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玲", "建", "国", "文", "辉", "斌", "宇", "浩",
    "凯", "婷", "雪", "琳", "晨", "欣", "怡", "梓", "涵", "子", "轩", "睿", "博", "佳", "一", "诺",
    "雨", "萱", "思", "源", "嘉", "晓", "春", "海", "兰", "志", "红", "德", "云", "峰", "燕", "蕾",
];

fn name(r: &mut Rng) -> String {
    let mut s = String::from(*r.pick(SURNAMES));
    let first = *r.pick(GIVEN);
    s.push_str(first);
    if r.chance(0.6) {
        let second = *r.pick(GIVEN);
        s.push_str(second);
    }
    s
}

struct Region {
    codes: &'static [&'static str],
    districts: &'static [&'static str],
}

const SHANGHAI: Region = Region {
    codes: &[
        "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112", "310113",
        "310114", "310115", "310117",
    ],
    districts: &[
        "黄浦区",
        "徐汇区",
        "长宁区",
        "静安区",
        "普陀区",
        "虹口区",
        "杨浦区",
        "闵行区",
        "宝山区",
        "嘉定区",
        "浦东新区",
        "松江区",
    ],
};
const BEIJING: Region = Region {
    codes: &[
        "110101", "110102", "110105", "110106", "110107", "110108", "110111", "110112",
    ],
    districts: &[
        "东城区",
        "西城区",
        "朝阳区",
        "丰台区",
        "石景山区",
        "海淀区",
        "房山区",
        "通州区",
    ],
};
const SUZHOU: Region = Region {
    codes: &[
        "320505", "320506", "320507", "320508", "320509", "320581", "320583",
    ],
    districts: &[
        "虎丘区",
        "吴中区",
        "相城区",
        "姑苏区",
        "吴江区",
        "常熟市",
        "昆山市",
    ],
};
/// Other hukou cities, with one area code each.
const OTHER_CITIES: &[(&str, &str)] = &[
    ("杭州", "330106"),
    ("南京", "320106"),
    ("合肥", "340104"),
    ("南通", "320602"),
    ("盐城", "320902"),
    ("阜阳", "341202"),
    ("六安", "341502"),
    ("成都", "510107"),
    ("重庆", "500106"),
    ("武汉", "420106"),
    ("郑州", "410105"),
    ("深圳", "440305"),
    ("宁波", "330203"),
    ("无锡", "320213"),
    ("温州", "330302"),
    ("信阳", "411502"),
    ("周口", "411602"),
    ("南昌", "360102"),
    ("长沙", "430104"),
    ("哈尔滨", "230103"),
];
const ROADS: &[&str] = &[
    "长寿路",
    "延安西路",
    "漕溪北路",
    "张杨路",
    "四平路",
    "莲花路",
    "共和新路",
    "曹安公路",
    "中山北路",
    "建国路",
    "复兴路",
    "学院路",
    "人民路",
    "干将路",
    "解放路",
    "和平路",
];

fn area_code(r: &mut Rng, hukou: &str) -> String {
    match hukou {
        "上海" => r.pick(SHANGHAI.codes).to_string(),
        "北京" => r.pick(BEIJING.codes).to_string(),
        "苏州" => r.pick(SUZHOU.codes).to_string(),
        other => OTHER_CITIES
            .iter()
            .find(|c| c.0 == other)
            .map(|c| c.1.to_string())
            .unwrap_or_else(|| "310115".into()),
    }
}

/// An 18-character 公民身份号码 in the official layout (area, birth date, sequence with
/// the gender parity, ISO 7064 MOD 11-2 check character). Synthetic: PRNG-drawn.
fn id_number(r: &mut Rng, hukou: &str, birth: NaiveDate, female: bool) -> String {
    let mut s = area_code(r, hukou);
    s.push_str(&birth.format("%Y%m%d").to_string());
    let mut seq = r.range(0, 998);
    if (seq % 2 == 0) != female {
        seq += 1;
    }
    s.push_str(&format!("{seq:03}"));
    with_check_char(&s)
}

/// Appends the ISO 7064 MOD 11-2 check character to the first 17 digits.
fn with_check_char(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(W)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    let mut s = first17.to_string();
    s.push(b"10X98765432"[(sum % 11) as usize] as char);
    s
}

fn phone(r: &mut Rng) -> String {
    let p = *r.pick(&[
        "135", "136", "138", "139", "150", "151", "158", "159", "177", "186", "187", "189", "199",
    ]);
    format!("{p}{}", r.digits(8))
}

fn address(r: &mut Rng, hukou: &str) -> String {
    let (city, district) = match hukou {
        "北京" => ("北京市", *r.pick(BEIJING.districts)),
        "苏州" => ("苏州市", *r.pick(SUZHOU.districts)),
        _ => ("上海市", *r.pick(SHANGHAI.districts)),
    };
    format!(
        "{city}{district}{}{}弄{}号{}室",
        r.pick(ROADS),
        r.range(1, 1999),
        r.range(1, 60),
        r.range(101, 2404)
    )
}

// ---------------------------------------------------------------------------
// Small JSON helpers

fn obj() -> Map<String, Value> {
    Map::new()
}

/// Sets a value at a `/`-separated path, creating objects on the way.
fn set(v: &mut Value, path: &str, x: Value) {
    let mut cur = v;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        let map = cur.as_object_mut().expect("an object on the path");
        if i + 1 == parts.len() {
            map.insert((*p).to_string(), x);
            return;
        }
        cur = map
            .entry((*p).to_string())
            .or_insert_with(|| Value::Object(obj()));
    }
}

fn remove(v: &mut Value, path: &str) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut cur = v;
    for p in &parts[..parts.len() - 1] {
        match cur.get_mut(*p) {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.shift_remove(parts[parts.len() - 1]);
    }
}

// ---------------------------------------------------------------------------
// Persons

/// Age-band weights (per mille) of an aged urban population, 5-year bands 0–4 … 95–99
/// and the single year 100.
const AGE_BANDS: &[(i64, f64)] = &[
    (0, 30.0),
    (5, 38.0),
    (10, 36.0),
    (15, 32.0),
    (20, 45.0),
    (25, 65.0),
    (30, 90.0),
    (35, 92.0),
    (40, 80.0),
    (45, 70.0),
    (50, 72.0),
    (55, 75.0),
    (60, 78.0),
    (65, 72.0),
    (70, 55.0),
    (75, 32.0),
    (80, 22.0),
    (85, 14.0),
    (90, 6.0),
    (95, 2.0),
    (100, 0.4),
];

fn birth_for_age(r: &mut Rng, age: i64) -> NaiveDate {
    // Born between the day after the (age+1)th and on the age-th anniversary before the snapshot.
    let hi = d(2025 - age as i32, 7, 1);
    add_days(hi, -r.range(0, 364))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Employed,
    Unemployed,
    Flexible,
    Retired,
    Student,
    Nilf,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Employed => "employed",
            Status::Unemployed => "unemployed",
            Status::Flexible => "flexible",
            Status::Retired => "retired",
            Status::Student => "student",
            Status::Nilf => "not_in_labor_force",
        }
    }
}

/// Monthly wage in cents, Shanghai-like distribution.
fn wage_cents(r: &mut Rng) -> i64 {
    let band = r.weighted(&[(0, 0.18), (1, 0.32), (2, 0.30), (3, 0.15), (4, 0.05)]);
    let (lo, hi) = [
        (2740, 5000),
        (5000, 8000),
        (8000, 15000),
        (15000, 30000),
        (30000, 60000),
    ][band];
    r.range(lo, hi) * 100
}

fn senior_allowance_cents(age: i64) -> i64 {
    match age {
        100.. => 60000,
        90.. => 35000,
        80.. => 18000,
        70.. => 15000,
        _ => 7500,
    }
}

/// Household member income for a relative of the given age (a list of items).
fn relative_income(r: &mut Rng, age: i64, poor: bool, hukou: &str) -> Vec<Value> {
    let mut items = vec![];
    if age < 16 {
        return items;
    }
    if poor {
        if (18..60).contains(&age) && r.chance(0.55) {
            items.push(json!({"type": "wage", "amount": money(r.range(40000, 220000))}));
        } else if age >= 60 {
            items.push(json!({"type": "pension", "amount": money(r.range(30000, 140000))}));
        }
        if r.chance(0.15) {
            items.push(json!({"type": "support_payment", "amount": money(r.range(10000, 60000))}));
        }
        return items;
    }
    if age >= 62 {
        let p = if r.chance(0.8) {
            r.range(350000, 900000)
        } else {
            r.range(120000, 180000)
        };
        items.push(json!({"type": "pension", "amount": money(p)}));
        if hukou == "上海" && age >= 65 {
            items.push(
                json!({"type": "senior_allowance", "amount": money(senior_allowance_cents(age))}),
            );
        }
    } else if age >= 18 {
        if r.chance(0.86) {
            items.push(json!({"type": "wage", "amount": money(wage_cents(r))}));
        } else if r.chance(0.4) {
            items.push(
                json!({"type": "business_income", "amount": money(r.range(300000, 1500000))}),
            );
        }
    }
    if r.chance(0.06) {
        items.push(json!({"type": "property_income", "amount": money(r.range(50000, 600000))}));
    }
    items
}

const OCCUPATIONS: &[&str] = &[
    "4-03-02-01",
    "6-31-01-03",
    "4-10-01-06",
    "4-14-01-01",
    "6-28-01-14",
    "4-07-05-01",
    "6-18-01-01",
    "4-10-03-01",
    "6-29-03-07",
    "4-01-02-01",
    "4-04-05-02",
    "6-25-04-08",
];
const EMPLOYERS: &[&str] = &[
    "上海申达物流有限公司",
    "上海浦江电子科技有限公司",
    "上海锦程餐饮管理有限公司",
    "上海宏远建设工程有限公司",
    "上海新华联商贸有限公司",
    "上海迅捷快递服务有限公司",
    "上海东方纺织制衣厂",
    "上海明珠酒店管理有限公司",
    "上海恒信信息技术有限公司",
];

/// Which boundary scenario, if any, a record is turned into.
fn boundary_slot(i: usize, n: usize, count: usize) -> Option<usize> {
    if n < count * 20 {
        return None;
    }
    let step = n / count;
    if i % step == step / 2 && i / step < count {
        Some(i / step)
    } else {
        None
    }
}

const PERSON_BOUNDARIES: usize = 22;

struct Person {
    v: Value,
    /// The kinds of the deliberate gaps in the record (for the stderr report).
    gaps: Vec<&'static str>,
}

fn gen_person(seed: u64, i: usize, n: usize) -> Person {
    let mut r = Rng::new(seed, 1, i as u64);
    let id = format!("P{:06}", i + 1);
    let snap = snap();
    let mut gaps: Vec<&'static str> = vec![];

    // --- identity (a boundary record is generated at the age its scenario needs)
    let slot = boundary_slot(i, n, PERSON_BOUNDARIES);
    let forced = slot.map(boundary_profile);
    let band = r.weighted(AGE_BANDS);
    let mut age = if band == 100 {
        100
    } else {
        band + r.range(0, 4)
    };
    let mut female = r.chance(if age >= 75 {
        0.58
    } else if age >= 60 {
        0.53
    } else {
        0.49
    });
    if let Some((a, f, _)) = forced {
        age = a;
        female = f.unwrap_or(female);
    }
    let birth = birth_for_age(&mut r, age);
    debug_assert_eq!(age_on(birth, snap), age);
    let hukou: String = if let Some((_, _, Some(h))) = forced {
        h.to_string()
    } else {
        let (sh, bj, sz) = if age < 18 {
            (0.62, 0.11, 0.06)
        } else if age < 60 {
            (0.50, 0.12, 0.07)
        } else {
            (0.76, 0.11, 0.03)
        };
        let u = r.f();
        if u < sh {
            "上海".into()
        } else if u < sh + bj {
            "北京".into()
        } else if u < sh + bj + sz {
            "苏州".into()
        } else {
            r.pick(OTHER_CITIES).0.into()
        }
    };
    let local = hukou == "上海";
    let cat = if female && age >= 16 {
        Some(if r.chance(0.55) {
            Cat::Worker50
        } else {
            Cat::Cadre55
        })
    } else {
        None
    };
    let ret = retirement(female, birth, cat);
    let past_ret = match ret {
        Some(x) => x <= snap,
        None => age >= 60,
    };

    // --- disability (more frequent among the old; the Beijing sample comes from the
    //     民政/残联 registers, where certificate holders are over-represented)
    let dis_rate: f64 = match age {
        0..=17 => 0.012,
        18..=59 => 0.03,
        60..=79 => 0.06,
        _ => 0.12,
    } * if hukou == "北京" { 5.0 } else { 1.0 };
    let disabled = r.chance(dis_rate.min(0.45));
    let dis_level = r.weighted(&[(1i64, 0.17), (2, 0.26), (3, 0.29), (4, 0.28)]);

    // --- education
    let mut level = "none";
    let mut full_time = false;
    let mut grad: Option<NaiveDate> = None;
    let mut student = false;
    if (6..=17).contains(&age) {
        student = true;
        if age >= 15 {
            level = "secondary";
            grad = Some(d(birth.year() + 15, 7, r.range(1, 10) as u32));
        }
    } else if age >= 18 {
        let college_p = match age {
            18..=30 => 0.65,
            31..=40 => 0.55,
            41..=50 => 0.35,
            51..=60 => 0.18,
            61..=70 => 0.10,
            _ => 0.06,
        };
        let college = r.chance(college_p) && !(disabled && r.chance(0.5));
        if college {
            let (lv, gage) = r.weighted(&[
                (("junior_college", 21), 0.33),
                (("bachelor", 22), 0.48),
                (("master", 25), 0.16),
                (("doctor", 28), 0.03),
            ]);
            let gd = d(
                birth.year() + gage,
                r.range(6, 7) as u32,
                r.range(1, 30) as u32,
            );
            if gd <= add_days(snap, -1) {
                level = lv;
                full_time = r.chance(if age < 45 { 0.88 } else { 0.7 });
                grad = Some(gd);
            } else {
                level = "secondary";
                grad = Some(d(birth.year() + 18, 7, r.range(1, 10) as u32));
                student = true;
            }
        } else if r.chance(if age < 60 { 0.85 } else { 0.55 }) {
            level = "secondary";
            grad = Some(d(birth.year() + 18, 7, r.range(1, 10) as u32));
            if age <= 19 && r.chance(0.6) {
                student = true;
            }
        }
        if level == "secondary" && age <= 22 && r.chance(0.55) {
            student = true; // in college
        }
    }
    let work_start_age = match level {
        "junior_college" => 21,
        "bachelor" => 22,
        "master" => 25,
        "doctor" => 28,
        "secondary" => 18,
        _ => 17,
    };

    // --- pension track of the old: 城镇职工 (formal) or 城乡居民
    let formal_career =
        r.chance(if local { 0.86 } else { 0.6 }) && !(disabled && dis_level <= 2 && r.chance(0.6));

    // --- employment status
    let status = if age < 6 {
        Status::Nilf
    } else if age < 16 || (student && age <= 30) {
        Status::Student
    } else if past_ret {
        if formal_career {
            if r.chance(0.9) {
                Status::Retired
            } else {
                Status::Employed
            }
        } else {
            Status::Nilf
        }
    } else if disabled && dis_level <= 2 {
        r.weighted(&[
            (Status::Nilf, 0.6),
            (Status::Employed, 0.2),
            (Status::Unemployed, 0.1),
            (Status::Flexible, 0.1),
        ])
    } else {
        r.weighted(&[
            (Status::Employed, 0.76),
            (Status::Flexible, 0.08),
            (Status::Unemployed, 0.065),
            (Status::Nilf, 0.08),
        ])
    };
    let worked = matches!(
        status,
        Status::Employed | Status::Unemployed | Status::Flexible | Status::Retired
    ) || (status == Status::Nilf && age >= 25 && r.chance(0.5));

    // --- unemployment insurance
    let career_end = if status == Status::Retired {
        ret.unwrap_or(snap).min(snap)
    } else {
        snap
    };
    let career_months = if worked {
        month_diff(add_months(birth, work_start_age * 12), career_end).max(0)
    } else {
        0
    };
    // Unemployment insurance has been recorded since 1999-01.
    let ui_cap = month_diff(d(1999, 1, 1), career_end);
    let coverage = if local {
        0.55 + 0.45 * r.f()
    } else {
        0.3 + 0.6 * r.f()
    };
    let mut ui_months = ((career_months as f64 * coverage) as i64)
        .min(ui_cap)
        .max(0);
    if status == Status::Flexible {
        ui_months = (ui_months as f64 * 0.7) as i64; // flexible workers pay no UI now
    }
    if worked && ui_months < 12 && age >= 24 && r.chance(0.6) {
        ui_months += r.range(12, 40);
    }
    let insured_region: Option<String> = if ui_months > 0 {
        Some(if r.chance(0.88) {
            "上海".into()
        } else if !local && r.chance(0.6) {
            hukou.clone()
        } else {
            "苏州".into()
        })
    } else {
        None
    };
    let prior_claim = ui_months > 24
        && r.chance(if status == Status::Unemployed {
            0.22
        } else {
            0.1
        });
    let since_claim = if prior_claim {
        Some(r.range(0, ui_months - 12))
    } else {
        None
    };
    let remaining = if prior_claim && r.chance(0.25) {
        r.range(1, 8)
    } else {
        0
    };

    // --- employment details
    let mut registered = false;
    let mut job_seeking = false;
    let mut separation_reason: Option<&str> = None;
    let mut separation_date: Option<NaiveDate> = None;
    let mut last_employer: Option<&str> = None;
    match status {
        Status::Unemployed => {
            registered = r.chance(0.78);
            job_seeking = registered && r.chance(0.92);
            separation_reason = Some(r.weighted(&[
                ("contract_expired", 0.30),
                ("employer_closed_or_bankrupt", 0.09),
                ("dismissed_by_employer", 0.08),
                ("mutual_agreement_employer_initiated", 0.12),
                ("employee_terminated_for_employer_fault", 0.03),
                ("mutual_agreement_employee_initiated", 0.08),
                ("voluntary_resignation", 0.30),
            ]));
            separation_date = Some(add_days(snap, -r.range(15, 540)));
            last_employer = Some(*r.pick(EMPLOYERS));
        }
        Status::Retired => {
            separation_reason = Some("retirement");
            separation_date = ret.map(|x| x.min(add_days(snap, -1)));
        }
        Status::Flexible if r.chance(0.5) => {
            separation_reason = Some(r.weighted(&[
                ("voluntary_resignation", 0.5),
                ("contract_expired", 0.3),
                ("employer_closed_or_bankrupt", 0.2),
            ]));
            separation_date = Some(add_days(snap, -r.range(60, 2000)));
            last_employer = Some(*r.pick(EMPLOYERS));
        }
        _ => {}
    }
    let receiving_benefit = status == Status::Unemployed
        && registered
        && separation_reason
            .is_some_and(|s| !s.contains("voluntary") && !s.contains("employee_init"))
        && ui_months >= 12
        && r.chance(0.6);

    // --- household poverty (低保) and difficulty certification
    let bj = hukou == "北京";
    let dibao = if bj {
        r.chance(if disabled { 0.45 } else { 0.08 })
    } else {
        r.chance(if disabled { 0.08 } else { 0.012 })
    };
    let poor_not_enrolled = !dibao && bj && r.chance(0.04);
    let poor = dibao || poor_not_enrolled;

    let certified = match status {
        Status::Unemployed | Status::Flexible => {
            let mut p: f64 = 0.22;
            if (female && age >= 40) || (!female && age >= 50) {
                p += 0.25;
            }
            if disabled {
                p += 0.3;
            }
            if poor {
                p += 0.3;
            }
            r.chance(p.min(0.9))
        }
        Status::Employed => r.chance(0.03),
        Status::Nilf if disabled && age >= 16 && !past_ret => r.chance(0.1),
        _ => false,
    };
    let certified_date = if certified {
        Some(rand_date(&mut r, d(2018, 1, 1), d(2025, 6, 15)))
    } else {
        None
    };
    let flex_used = if certified && status == Status::Flexible {
        if r.chance(0.72) {
            r.range(0, 35)
        } else {
            r.range(36, 54)
        }
    } else {
        0
    };
    let flex_region: Option<String> = if status == Status::Flexible {
        Some(if r.chance(0.9) {
            "上海".into()
        } else {
            "苏州".into()
        })
    } else {
        None
    };
    let flex_paid = status == Status::Flexible && r.chance(0.88);
    let mut manager = match status {
        Status::Employed => r.chance(0.03),
        Status::Flexible => r.chance(0.06),
        _ => false,
    };

    // --- pensions
    let ep_enrolled = (worked && formal_career && r.chance(0.95))
        || (matches!(status, Status::Employed | Status::Flexible) && r.chance(0.9));
    let deemed = if ep_enrolled && birth.year() < 1975 && formal_career && r.chance(0.5) {
        month_diff(add_months(birth, work_start_age * 12), d(1993, 1, 1)).max(0)
    } else {
        0
    };
    let mut ep_months = if ep_enrolled {
        ((career_months as f64 * (0.6 + 0.4 * r.f())) as i64)
            .max(ui_months)
            .min(600)
    } else {
        0
    };
    if ep_enrolled && past_ret && r.chance(0.06) {
        ep_months = r.range(96, 179); // short career: has to keep paying (延长缴费)
    }
    let ep_receiving = status == Status::Retired && ep_enrolled && ep_months >= 180;
    let rp_enrolled = !ep_enrolled
        && age >= 16
        && status != Status::Student
        && r.chance(if age >= 45 { 0.88 } else { 0.6 });
    let aged_60_at_start = rp_enrolled && birth < d(1951, 7, 1) && r.chance(0.8);
    let rp_years = if !rp_enrolled || aged_60_at_start {
        0
    } else if age >= 60 {
        if r.chance(0.76) {
            r.range(15, 26)
        } else {
            r.range(3, 14)
        }
    } else {
        r.range(0, (age - 16).min(30))
    };
    let rp_balance_cents = if rp_enrolled {
        if aged_60_at_start {
            r.range(0, 120000)
        } else {
            rp_years * r.range(60000, 360000) + r.range(0, 99)
        }
    } else {
        0
    };
    let rp_receiving =
        rp_enrolled && age >= 60 && (rp_years >= 15 || aged_60_at_start) && r.chance(0.85);

    // --- status flags, alive
    let mut flags: Vec<&str> = vec![];
    if age >= 18
        && r.chance(if status == Status::Unemployed {
            0.035
        } else {
            0.004
        })
    {
        flags.push(r.weighted(&[
            ("imprisoned", 0.4),
            ("military_service", 0.35),
            ("emigrated", 0.25),
        ]));
    }
    let alive = !r.chance(if age >= 70 { 0.008 } else { 0.001 });

    // --- skill certificates: earlier ones paid, the newest one open
    let mut certs: Vec<Value> = vec![];
    let cert_p = match status {
        Status::Employed | Status::Unemployed | Status::Flexible if (18..=60).contains(&age) => {
            0.22
        }
        Status::Nilf if (18..=60).contains(&age) => 0.05,
        _ => 0.0,
    };
    if r.chance(cert_p) {
        let k = r.weighted(&[(1usize, 0.6), (2, 0.28), (3, 0.12)]);
        let occ = *r.pick(OCCUPATIONS);
        let mut issue = rand_date(&mut r, d(2023, 1, 1), d(2025, 6, 25));
        let newest_level = r.weighted(&[(5i64, 0.36), (4, 0.32), (3, 0.2), (2, 0.08), (1, 0.04)]);
        let mut lvl = newest_level;
        let mut list = vec![];
        for j in 0..k {
            let open = j == 0;
            let holder = if open {
                if status == Status::Unemployed && receiving_benefit && r.chance(0.5) {
                    "receiving_ui_benefit"
                } else if ui_months >= 12 && r.chance(0.82) {
                    "employed_insured"
                } else {
                    "other"
                }
            } else {
                "employed_insured"
            };
            let ty = r.weighted(&[
                ("skill_level", 0.55),
                ("vocational_qualification", 0.35),
                ("other", 0.1),
            ]);
            let mut c = obj();
            c.insert("id".into(), json!(format!("{id}-C{}", k - j)));
            // Earlier certificates: mostly the same occupation at a lower level; a few
            // at the same level (C6) or a higher one (C7).
            let this_occ = if open || r.chance(0.75) {
                occ
            } else {
                *r.pick(OCCUPATIONS)
            };
            c.insert("occupation_code".into(), json!(this_occ));
            c.insert("type".into(), json!(ty));
            c.insert("level".into(), json!(lvl));
            c.insert("issue_date".into(), date_v(issue));
            c.insert("holder_status_at_issue".into(), json!(holder));
            if open {
                c.insert("subsidy_paid_date".into(), Value::Null);
                if r.chance(0.08) {
                    c.insert("training_subsidy_received".into(), json!(true));
                }
            } else {
                let paid = add_days(issue, r.range(20, 120)).min(d(2025, 6, 20));
                c.insert("subsidy_paid_date".into(), date_v(paid));
            }
            list.push(Value::Object(c));
            // the previous (older) certificate
            issue = add_days(issue, -r.range(200, 900));
            lvl = if r.chance(0.06) {
                lvl
            } else if r.chance(0.05) && lvl > 1 {
                lvl - 1
            } else {
                (lvl + 1).min(5)
            };
        }
        list.reverse();
        certs = list;
    }

    // --- business registrations
    let mut regs: Vec<Value> = vec![];
    let mut groups: Vec<&str> = vec![];
    let mut prior_startup = false;
    let recent_grad = full_time && grad.is_some_and(|g| g >= d(2021, 7, 1));
    let founder_kind = if recent_grad
        && matches!(
            status,
            Status::Employed | Status::Flexible | Status::Unemployed
        )
        && r.chance(0.28)
    {
        1
    } else if certified && r.chance(0.28) {
        2
    } else if (25..=62).contains(&age)
        && matches!(status, Status::Employed | Status::Flexible)
        && r.chance(0.05)
    {
        3
    } else {
        0
    };
    if founder_kind > 0 {
        let reg_date = match founder_kind {
            1 => {
                let g = grad.expect("graduate");
                let lo = add_days(g, 10);
                let hi = add_months(g, if r.chance(0.85) { 24 } else { 36 }).min(d(2025, 6, 1));
                rand_date(&mut r, lo, hi.max(lo))
            }
            2 => {
                let cd = certified_date.expect("certified");
                if r.chance(0.75) {
                    rand_date(&mut r, cd, add_months(cd, 30).min(d(2025, 6, 1)).max(cd))
                } else {
                    rand_date(&mut r, add_months(cd, -30), add_days(cd, -1))
                }
            }
            _ => rand_date(&mut r, d(2008, 1, 1), d(2025, 5, 1)),
        };
        let region = if founder_kind == 3 {
            r.weighted(&[("上海", 0.75), ("苏州", 0.15), ("杭州", 0.1)])
        } else {
            r.weighted(&[("苏州", 0.65), ("上海", 0.28), ("杭州", 0.07)])
        };
        let individual = r.chance(if founder_kind == 3 { 0.4 } else { 0.55 });
        let mut reg = obj();
        reg.insert("id".into(), json!(format!("{id}-B1")));
        reg.insert(
            "type".into(),
            json!(if individual {
                "individual_business"
            } else {
                "enterprise"
            }),
        );
        if !individual {
            let sz = r.weighted(&[("micro", 0.6), ("small", 0.3), ("medium", 0.1)]);
            reg.insert("size_class".into(), json!(sz));
        }
        let role = if r.chance(0.9) {
            if individual {
                "operator"
            } else {
                "legal_rep"
            }
        } else {
            "shareholder"
        };
        reg.insert("role".into(), json!(role));
        reg.insert("region".into(), json!(region));
        reg.insert("registration_date".into(), date_v(reg_date));
        reg.insert(
            "status".into(),
            json!(r.weighted(&[("active", 0.9), ("deregistered", 0.07), ("revoked", 0.03)])),
        );
        if role == "legal_rep" {
            manager = true;
        }
        // An earlier, closed business (not a first-time founder), for some.
        if r.chance(if founder_kind == 3 { 0.3 } else { 0.12 }) {
            let early = add_days(reg_date, -r.range(400, 3000));
            regs.push(json!({
                "id": format!("{id}-B0"), "type": "individual_business", "role": "operator",
                "region": "上海", "registration_date": date_v(early), "status": "deregistered"
            }));
            prior_startup = r.chance(0.3);
        }
        regs.push(Value::Object(reg));
        match founder_kind {
            1 => groups.push("college_student_or_graduate_5y"),
            2 => groups.push("employment_difficulty"),
            _ => {}
        }
        if r.chance(0.15) {
            groups.push("online_merchant");
        }
    }
    if registered && status == Status::Unemployed {
        groups.push("registered_unemployed");
    }

    // --- household
    let hh_region = if r.chance(0.97) {
        hukou.clone()
    } else {
        "上海".to_string()
    };
    let mut members: Vec<Value> = vec![];
    let mut self_income: Vec<Value> = vec![];
    match status {
        Status::Employed => {
            let w = if poor {
                r.range(100000, 260000)
            } else {
                wage_cents(&mut r)
            };
            self_income.push(json!({"type": "wage", "amount": money(w)}));
        }
        Status::Flexible => {
            let w = if poor {
                r.range(60000, 200000)
            } else {
                r.range(300000, 1200000)
            };
            self_income.push(json!({"type": "business_income", "amount": money(w)}));
        }
        Status::Unemployed if receiving_benefit => {
            self_income.push(json!({"type": "ui_benefit", "amount": money(225500)}));
        }
        Status::Retired => {
            let p = if poor {
                r.range(110000, 170000)
            } else {
                r.range(320000, 950000)
            };
            self_income.push(json!({"type": "pension", "amount": money(p)}));
        }
        _ if rp_receiving => {
            let p = if local {
                r.range(130000, 170000)
            } else if bj {
                r.range(90000, 130000)
            } else {
                r.range(20000, 60000)
            };
            self_income.push(json!({"type": "pension", "amount": money(p)}));
        }
        _ => {}
    }
    if local && age >= 65 {
        self_income.push(
            json!({"type": "senior_allowance", "amount": money(senior_allowance_cents(age))}),
        );
    }
    if disabled && dibao && bj {
        self_income.push(json!({"type": "disability_living_subsidy", "amount": money(40000)}));
    }
    let assets = |r: &mut Rng, age: i64| -> Value {
        if age < 16 {
            money(0)
        } else if poor {
            money(r.range(0, 2_000_000))
        } else {
            money(r.range(1_000_000, 60_000_000))
        }
    };
    let mut self_m = obj();
    self_m.insert("person_id".into(), json!(id));
    self_m.insert("relationship".into(), json!("self"));
    self_m.insert(
        "gender".into(),
        json!(if female { "female" } else { "male" }),
    );
    self_m.insert("birth_date".into(), date_v(birth));
    self_m.insert("monthly_income".into(), Value::Array(self_income));
    self_m.insert("financial_assets".into(), assets(&mut r, age));
    members.push(Value::Object(self_m));

    let mut mk = 0;
    let mut member =
        |r: &mut Rng, rel: &str, age_m: i64, fem: Option<bool>| -> Map<String, Value> {
            mk += 1;
            let b = birth_for_age(r, age_m.max(0));
            let mut m = obj();
            m.insert("person_id".into(), json!(format!("{id}-M{mk}")));
            m.insert("relationship".into(), json!(rel));
            let f = fem.unwrap_or_else(|| r.chance(0.5));
            m.insert("gender".into(), json!(if f { "female" } else { "male" }));
            m.insert("birth_date".into(), date_v(b));
            let inc = relative_income(r, age_m, poor, &hh_region);
            m.insert("monthly_income".into(), Value::Array(inc));
            m.insert("financial_assets".into(), assets(r, age_m));
            m
        };
    // spouse
    let married_p = match age {
        0..=23 => 0.0,
        24..=29 => 0.4,
        30..=39 => 0.75,
        40..=69 => 0.85,
        _ => 0.55,
    } * if poor { 0.6 } else { 1.0 };
    if r.chance(married_p) {
        let sa = (age + r.range(-4, 4)).max(20);
        let s = member(&mut r, "spouse", sa, Some(!female));
        members.push(Value::Object(s));
    }
    // a child under 3 (育儿补贴)
    let mut young_children: Vec<usize> = vec![];
    let u3_p = match age {
        23..=27 => 0.08,
        28..=38 => 0.13,
        39..=44 => 0.06,
        _ => 0.0,
    };
    let grand_u3 = (50..=72).contains(&age) && r.chance(0.07);
    if r.chance(u3_p) || grand_u3 {
        let count = if r.chance(0.12) { 2 } else { 1 };
        for _ in 0..count {
            let cb = if r.chance(0.3) {
                rand_date(&mut r, d(2025, 1, 1), d(2025, 6, 28))
            } else {
                rand_date(&mut r, d(2021, 10, 1), d(2024, 12, 31))
            };
            let rel = if grand_u3 { "grandchild" } else { "child" };
            let mut m = member(&mut r, rel, 0, None);
            m.insert("name".into(), json!(name(&mut r)));
            m.insert("birth_date".into(), date_v(cb));
            m.insert("monthly_income".into(), json!([]));
            let foreign = r.chance(0.01);
            if foreign {
                m.insert("nationality".into(), json!(*r.pick(&["US", "JP", "CA"])));
            }
            // a newborn of the last weeks may not be registered yet
            let not_yet = cb >= d(2025, 5, 15) && r.chance(0.5);
            let registered = !not_yet && !r.chance(0.02);
            m.insert("hukou_registered".into(), json!(registered));
            m.insert("birth_policy_compliant".into(), json!(!r.chance(0.03)));
            let applicant = if grand_u3 {
                if r.chance(0.2) {
                    "guardian"
                } else {
                    "grandparent"
                }
            } else if r.chance(0.02) {
                "other"
            } else if female {
                "mother"
            } else {
                "father"
            };
            m.insert("applicant_relationship".into(), json!(applicant));
            m.insert(
                "birth_certificate_no".into(),
                json!(format!("{}{}", r.pick(&["O", "P", "Q"]), r.digits(9))),
            );
            m.insert("has_social_security_card".into(), json!(r.chance(0.7)));
            young_children.push(members.len());
            members.push(Value::Object(m));
        }
    }
    // older children living at home
    if (28..=62).contains(&age) && r.chance(0.5) {
        let ca = r.range(3, (age - 24).clamp(3, 30));
        let mut m = member(&mut r, "child", ca, None);
        if ca < 18 {
            m.insert("hukou_registered".into(), json!(true));
            m.insert("birth_policy_compliant".into(), json!(true));
            m.insert(
                "applicant_relationship".into(),
                json!(if female { "mother" } else { "father" }),
            );
        }
        members.push(Value::Object(m));
    }
    // parents (of minors and young adults), or an adult child of the very old
    if age < 30 && !(age < 18 && r.chance(0.01)) {
        let pa = age + r.range(24, 34);
        let np = if age < 18 {
            r.weighted(&[(2, 0.85), (1, 0.15)])
        } else if r.chance(0.5) {
            2
        } else {
            0
        };
        for k in 0..np {
            let m = member(&mut r, "parent", pa + k, Some(k == 0));
            members.push(Value::Object(m));
        }
    } else if age >= 75 && r.chance(0.3) {
        let ca = age - r.range(24, 34);
        let m = member(&mut r, "child", ca, None);
        members.push(Value::Object(m));
    }
    let orphan = age < 18 && members.iter().all(|m| m["relationship"] != "parent") && r.chance(0.7);
    // 特困 (mutually exclusive with 低保) for a few Beijing households
    let tekun = bj && !dibao && (age >= 60 || disabled) && members.len() == 1 && r.chance(0.25);
    if tekun {
        members[0]["tekun_support"] = json!(true);
    }

    // --- gaps: a field the rules need is absent (targeted at subjects close to a decision)
    let in_bj_hh = hh_region == "北京";
    if r.chance(0.002) {
        gaps.push("birth_date");
    }
    if r.chance(0.0015) {
        gaps.push("gender");
    }
    if r.chance(0.0015) || (age >= 65 && local && r.chance(0.004)) {
        gaps.push("hukou_region");
    }
    if female && age >= 16 && r.chance(0.008) {
        gaps.push("female_retirement_category");
    }
    if status == Status::Unemployed {
        if r.chance(0.1) {
            gaps.push("separation_reason");
        }
        if r.chance(0.05) {
            gaps.push("insured_region");
        }
        if r.chance(0.03) {
            gaps.push("status");
        }
    }
    let flex_near = flex_paid && !manager && flex_region.as_deref() == Some("上海");
    if status == Status::Flexible && certified && r.chance(if flex_near { 0.5 } else { 0.02 }) {
        gaps.push(if r.chance(0.5) {
            "status"
        } else {
            "birth_date"
        });
    }
    if let Some(open) = certs.last() {
        // near a decision: the open certificate is recent, of a covered kind and level
        let near = open["issue_date"]
            .as_str()
            .is_some_and(|x| x >= "2024-07-01")
            && open["type"] != "other"
            && open["level"].as_i64().is_some_and(|l| l >= 3)
            && open.get("training_subsidy_received").is_none()
            && ui_months >= 12;
        if r.chance(if near { 0.1 } else { 0.004 }) {
            gaps.push(r.weighted(&[
                ("months_total", 0.45),
                ("cert_holder_status", 0.4),
                ("cert_issue_date", 0.15),
            ]));
        }
    }
    if ep_enrolled && past_ret && r.chance(0.006) {
        gaps.push("contribution_months");
    }
    if rp_enrolled && age >= 60 {
        if !aged_60_at_start && r.chance(0.04) {
            gaps.push("contribution_years");
        }
        if r.chance(0.03) {
            gaps.push("account_balance");
        }
    }
    if disabled && bj {
        // concentrated where a Beijing disability decision hinges on the field
        let p = if dibao || dis_level <= 2 { 0.35 } else { 0.03 };
        if r.chance(p) {
            gaps.push(r.weighted(&[
                ("certificate_valid", 0.5),
                ("disability_level", 0.3),
                ("disability_category", 0.2),
            ]));
        }
    }
    if in_bj_hh && r.chance(if poor { 0.25 } else { 0.01 }) {
        gaps.push("member_income");
    }
    if !young_children.is_empty() && r.chance(0.1) {
        gaps.push(r.weighted(&[
            ("child_hukou_registered", 0.45),
            ("child_birth_policy_compliant", 0.35),
            ("child_applicant_relationship", 0.1),
            ("child_birth_date", 0.1),
        ]));
    }
    let founder_near = regs.len() == 1
        && regs[0]["region"] == "苏州"
        && regs[0]["status"] == "active"
        && regs[0]["role"] != "shareholder"
        && regs[0]["registration_date"]
            .as_str()
            .is_some_and(|x| x <= "2024-07-01");
    if founder_kind > 0 && founder_kind < 3 && r.chance(if founder_near { 0.5 } else { 0.02 }) {
        gaps.push(if founder_kind == 1 {
            "graduation_date"
        } else {
            "reg_size_class"
        });
    }
    let has = |g: &'static str| gaps.contains(&g);

    // --- assemble
    let mut p = obj();
    p.insert("id".into(), json!(id));
    p.insert("name".into(), json!(name(&mut r)));
    p.insert(
        "id_number".into(),
        json!(id_number(&mut r, &hukou, birth, female)),
    );
    if age >= 16 {
        p.insert("phone".into(), json!(phone(&mut r)));
    }
    let home = address(&mut r, &hukou);
    // The grid (网格) of the community worker who visits the person: drawn from its
    // own stream, so that every other field is as before; a few records have none.
    let mut g = Rng::new(seed, 4, i as u64);
    if !g.chance(0.03) {
        let district = home
            .split_once('市')
            .and_then(|(_, rest)| rest.split_once('区'))
            .map_or("外", |(d, _)| d);
        let grid = format!("{district}区第{}网格", g.range(1, 4));
        p.insert("grid".into(), json!(grid));
    }
    p.insert("address".into(), json!(home));
    if !has("gender") {
        p.insert(
            "gender".into(),
            json!(if female { "female" } else { "male" }),
        );
    }
    if !has("birth_date") {
        p.insert("birth_date".into(), date_v(birth));
    }
    if let Some(c) = cat {
        if !has("female_retirement_category") {
            p.insert("female_retirement_category".into(), json!(c.name()));
        }
    }
    if has("hukou_region") {
        p.insert("hukou_region".into(), Value::Null);
    } else {
        p.insert("hukou_region".into(), json!(hukou));
    }
    if !alive {
        p.insert("alive".into(), json!(false));
    }
    if !flags.is_empty() {
        p.insert("status_flags".into(), json!(flags));
    }
    if status == Status::Retired && r.chance(0.6) {
        p.insert(
            "archive_keeper".into(),
            json!(format!("{}人才服务中心", r.pick(SHANGHAI.districts))),
        );
    }

    let mut edu = obj();
    edu.insert("level".into(), json!(level));
    if full_time {
        edu.insert("full_time_regular_college".into(), json!(true));
    }
    edu.insert(
        "graduation_date".into(),
        match grad {
            Some(g) if !has("graduation_date") => date_v(g),
            _ => Value::Null,
        },
    );

    let mut emp = obj();
    if !has("status") {
        emp.insert("status".into(), json!(status.name()));
    }
    if let Some(e) = last_employer {
        emp.insert("last_employer_name".into(), json!(e));
    }
    if let Some(sd) = separation_date {
        emp.insert("separation_date".into(), date_v(sd));
    }
    emp.insert(
        "separation_reason".into(),
        match separation_reason {
            Some(s) if !has("separation_reason") => json!(s),
            _ => Value::Null,
        },
    );
    if let Some(fr) = &flex_region {
        emp.insert("flexible_registration_region".into(), json!(fr));
    }
    if manager {
        emp.insert("is_enterprise_manager".into(), json!(true));
    }

    let mut rec = obj();
    rec.insert("person".into(), Value::Object(p));
    rec.insert("education".into(), Value::Object(edu));
    rec.insert("employment".into(), Value::Object(emp));
    if registered || job_seeking {
        rec.insert(
            "unemployment_registration".into(),
            json!({"registered": registered, "job_seeking": job_seeking}),
        );
    }
    if certified {
        let mut ed = obj();
        ed.insert("certified".into(), json!(true));
        ed.insert(
            "certified_date".into(),
            date_v(certified_date.expect("date")),
        );
        if flex_used > 0 {
            ed.insert("flexible_subsidy_months_used".into(), json!(flex_used));
        }
        rec.insert("employment_difficulty".into(), Value::Object(ed));
    }

    let mut si = obj();
    let mut ep = obj();
    ep.insert("enrolled".into(), json!(ep_enrolled));
    if !has("contribution_months") {
        ep.insert("contribution_months".into(), json!(ep_months));
    }
    if deemed > 0 {
        ep.insert("deemed_months".into(), json!(deemed));
    }
    if ep_receiving {
        ep.insert("receiving".into(), json!(true));
    }
    si.insert("employee_pension".into(), Value::Object(ep));
    let mut rp = obj();
    rp.insert("enrolled".into(), json!(rp_enrolled));
    if rp_enrolled {
        if !has("contribution_years") {
            rp.insert("contribution_years".into(), json!(rp_years));
        }
        if !has("account_balance") {
            rp.insert("account_balance".into(), money(rp_balance_cents));
        }
        if aged_60_at_start {
            rp.insert("aged_60_at_scheme_start".into(), json!(true));
        }
        if rp_receiving {
            rp.insert("receiving".into(), json!(true));
        }
    }
    si.insert("resident_pension".into(), Value::Object(rp));
    let mut ui = obj();
    ui.insert(
        "insured_region".into(),
        match &insured_region {
            Some(x) if !has("insured_region") => json!(x),
            _ => Value::Null,
        },
    );
    if !has("months_total") {
        ui.insert("months_total".into(), json!(ui_months));
    }
    if let Some(s) = since_claim {
        ui.insert("months_since_last_claim".into(), json!(s));
    }
    if remaining > 0 {
        ui.insert("remaining_entitlement_months".into(), json!(remaining));
    }
    if receiving_benefit {
        ui.insert("receiving_benefit".into(), json!(true));
    }
    si.insert("unemployment".into(), Value::Object(ui));
    si.insert(
        "medical".into(),
        json!({"employee_months": if ep_enrolled { (ep_months + r.range(-12, 12)).clamp(0, 600) } else { 0 }}),
    );
    if status == Status::Flexible {
        si.insert("flexible".into(), json!({"paid_current_month": flex_paid}));
    }
    rec.insert("social_insurance".into(), Value::Object(si));

    if !certs.is_empty() {
        let last = certs.len() - 1;
        if let Some(c) = certs[last].as_object_mut() {
            if has("cert_holder_status") {
                c.insert("holder_status_at_issue".into(), Value::Null);
            }
            if has("cert_issue_date") {
                c.shift_remove("issue_date");
            }
        }
        rec.insert("skill_certificates".into(), Value::Array(certs));
    }

    if disabled {
        let category = r.weighted(&[
            ("physical", 0.45),
            ("hearing", 0.14),
            ("vision", 0.12),
            ("mental", 0.1),
            ("intellectual", 0.08),
            ("multiple", 0.08),
            ("speech", 0.03),
        ]);
        let mut dis = obj();
        dis.insert(
            "certificate_valid".into(),
            if has("certificate_valid") {
                Value::Null
            } else {
                json!(r.chance(0.93))
            },
        );
        if !has("disability_category") {
            dis.insert("category".into(), json!(category));
        }
        if !has("disability_level") {
            dis.insert("level".into(), json!(dis_level));
        }
        if category == "multiple" {
            let all = [
                "vision",
                "hearing",
                "speech",
                "physical",
                "intellectual",
                "mental",
            ];
            let a = r.range(0, 5) as usize;
            let b = (a + r.range(1, 5) as usize) % 6;
            dis.insert("multiple_components".into(), json!([all[a], all[b]]));
        }
        let care_p = match (dis_level, category) {
            (1, _) => 0.7,
            (2, _) => 0.45,
            (3, "intellectual" | "mental") => 0.3,
            _ => 0.05,
        };
        if r.chance(care_p) {
            dis.insert("long_term_care_needed".into(), json!(true));
        }
        rec.insert("disability".into(), Value::Object(dis));
    }

    let mut ben = obj();
    if orphan || (disabled && bj && age < 18 && r.chance(0.3)) {
        ben.insert("orphan_allowance".into(), json!(true));
    }
    if disabled && (18..=75).contains(&age) && r.chance(0.08) {
        ben.insert("work_injury_nursing_allowance".into(), json!(true));
    }
    if prior_startup {
        ben.insert("prior_one_time_startup_subsidy".into(), json!(true));
    }
    if !ben.is_empty() {
        rec.insert("benefits".into(), Value::Object(ben));
    }

    if !regs.is_empty() {
        if has("reg_size_class") {
            if let Some(m) = regs.last_mut().and_then(|x| x.as_object_mut()) {
                if m.contains_key("size_class") {
                    m.insert("size_class".into(), Value::Null);
                } else {
                    m.insert("region".into(), Value::Null);
                }
            }
        }
        rec.insert("business".into(), json!({"registrations": regs}));
        if founder_kind > 0 && r.chance(0.5) {
            rec.insert("jobs_created_last_12_months".into(), json!(r.range(0, 6)));
        }
    }
    if !groups.is_empty() {
        rec.insert("startup_groups".into(), json!(groups));
    }
    if age >= 18 {
        rec.insert("credit".into(), json!({"bad_record": r.chance(0.03)}));
        let mut loans = vec![];
        if (25..=62).contains(&age) && !poor && r.chance(0.3) {
            loans.push(json!({"type": "mortgage", "principal": money(r.range(200_000, 3_000_000) * 100), "borrower": if r.chance(0.7) { "self" } else { "spouse" }}));
        }
        if (22..=40).contains(&age) && full_time && r.chance(0.06) {
            loans.push(json!({"type": "student", "principal": money(r.range(8_000, 40_000) * 100), "borrower": "self"}));
        }
        if founder_kind > 0 && r.chance(0.25) {
            loans.push(json!({"type": "startup_guaranteed", "principal": money(r.range(50_000, 300_000) * 100), "borrower": "self"}));
        }
        if !loans.is_empty() {
            rec.insert("loans".into(), Value::Array(loans));
        }
    }
    if ep_enrolled && ep_months > 0 {
        let mut hf = obj();
        hf.insert("account".into(), json!(true));
        if r.chance(0.5) {
            hf.insert("account_no".into(), json!(r.digits(12)));
        }
        hf.insert("balance".into(), money(r.range(0, 40_000_000)));
        rec.insert("housing_fund".into(), Value::Object(hf));
    }
    {
        let has_card = r.chance(if age >= 16 { 0.96 } else { 0.7 });
        let mut sc = obj();
        sc.insert("has_card".into(), json!(has_card));
        if has_card && age >= 16 && r.chance(0.85) {
            sc.insert(
                "financial_account".into(),
                json!(format!("6217{}", r.digits(15))),
            );
            sc.insert("financial_account_active".into(), json!(r.chance(0.85)));
        }
        rec.insert("social_security_card".into(), Value::Object(sc));
    }

    // household gaps
    if has("member_income") {
        let k = r.range(0, members.len() as i64 - 1) as usize;
        if let Some(m) = members[k].as_object_mut() {
            m.shift_remove("monthly_income");
        }
    }
    if let Some(&k) = young_children.first() {
        let m = members[k].as_object_mut().expect("member");
        for (g, f) in [
            ("child_hukou_registered", "hukou_registered"),
            ("child_birth_policy_compliant", "birth_policy_compliant"),
            ("child_applicant_relationship", "applicant_relationship"),
            ("child_birth_date", "birth_date"),
        ] {
            if gaps.contains(&g) {
                m.insert(f.into(), Value::Null);
            }
        }
    }
    if has("birth_date") {
        if let Some(m) = members[0].as_object_mut() {
            m.insert("birth_date".into(), Value::Null);
        }
    }
    let mut hh = obj();
    hh.insert("id".into(), json!(format!("H{:06}", i + 1)));
    hh.insert("hukou_region".into(), json!(hh_region));
    if dibao {
        hh.insert("dibao_active".into(), json!(true));
    }
    hh.insert("members".into(), Value::Array(members));
    rec.insert("household".into(), Value::Object(hh));

    let mut v = Value::Object(rec);
    if let Some(k) = slot {
        person_boundary(&mut v, k, &mut r);
        gaps.clear();
    }
    Person { v, gaps }
}

/// The age, gender (if fixed) and hukou (if fixed) a boundary scenario starts from.
fn boundary_profile(k: usize) -> (i64, Option<bool>, Option<&'static str>) {
    match k {
        0 | 1 => (65, None, Some("上海")),
        2 => (100, None, Some("上海")),
        3 => (60, None, None),
        4 => (60, Some(false), None),
        5 => (50, Some(true), None),
        6 => (30, None, None),
        7 => (34, None, None),
        8 | 9 => (33, None, None),
        10 => (35, None, None),
        11..=14 => (45, None, Some("北京")),
        15..=17 => (34, Some(true), None),
        18 => (25, None, None),
        19 => (56, Some(false), None),
        20 => (24, None, None),
        _ => (62, None, None),
    }
}

/// Replaces the facts a policy reads by a boundary scenario (a value exactly at a
/// threshold) or a deliberate evaluation error.
fn person_boundary(v: &mut Value, k: usize, r: &mut Rng) {
    let set_birth = |v: &mut Value, b: NaiveDate| {
        set(v, "/person/birth_date", date_v(b));
        v["household"]["members"][0]["birth_date"] = date_v(b);
        if let Some(id) = v["person"]["id_number"].as_str() {
            let fixed = with_check_char(&format!(
                "{}{}{}",
                &id[..6],
                b.format("%Y%m%d"),
                &id[14..17]
            ));
            v["person"]["id_number"] = json!(fixed);
        }
    };
    let unemployed = |v: &mut Value| {
        set(v, "/employment/status", json!("unemployed"));
        set(
            v,
            "/employment/separation_reason",
            json!("contract_expired"),
        );
        set(
            v,
            "/unemployment_registration",
            json!({"registered": true, "job_seeking": true}),
        );
        set(
            v,
            "/social_insurance/unemployment/insured_region",
            json!("上海"),
        );
        remove(v, "/social_insurance/unemployment/months_since_last_claim");
        remove(
            v,
            "/social_insurance/unemployment/remaining_entitlement_months",
        );
        set(
            v,
            "/social_insurance/employee_pension/receiving",
            json!(false),
        );
        set(
            v,
            "/social_insurance/resident_pension/receiving",
            json!(false),
        );
        remove(v, "/person/status_flags");
        v["household"]["members"][0]["monthly_income"] = json!([]);
    };
    let bj_household = |v: &mut Value, incomes: &[i64], assets: &[i64]| {
        set(v, "/person/hukou_region", json!("北京"));
        let mut members = vec![];
        for (j, (&inc, &a)) in incomes.iter().zip(assets).enumerate() {
            let id = v["person"]["id"].as_str().unwrap_or("P").to_string();
            members.push(json!({
                "person_id": if j == 0 { id.clone() } else { format!("{id}-M{j}") },
                "relationship": if j == 0 { "self" } else if j == 1 { "spouse" } else { "child" },
                "birth_date": date_v(d(1980 + j as i32 * 2, 3, 3)),
                "monthly_income": if inc > 0 { json!([{"type": "wage", "amount": money(inc)}]) } else { json!([]) },
                "financial_assets": money(a),
            }));
        }
        set(v, "/household/hukou_region", json!("北京"));
        set(v, "/household/members", Value::Array(members));
        set_birth(v, d(1980, 3, 3));
    };
    match k {
        // 65th birthday on 2025-07-01 (policy 10: eligible on 07-01, not on 06-30)
        0 => {
            set_birth(v, d(1960, 7, 1));
            set(v, "/person/hukou_region", json!("上海"));
            remove(v, "/person/alive");
        }
        // born on 29 February
        1 => {
            set_birth(v, d(1960, 2, 29));
            set(v, "/person/hukou_region", json!("上海"));
            remove(v, "/person/alive");
        }
        // 100th birthday on 2025-07-01
        2 => {
            set_birth(v, d(1925, 7, 1));
            set(v, "/person/hukou_region", json!("上海"));
            remove(v, "/person/alive");
        }
        // resident pension: 60 on 2025-07-01 with exactly 15 years
        3 => {
            set_birth(v, d(1965, 7, 1));
            set(
                v,
                "/social_insurance/employee_pension",
                json!({"enrolled": false, "contribution_months": 0}),
            );
            set(
                v,
                "/social_insurance/resident_pension",
                json!({"enrolled": true, "contribution_years": 15, "account_balance": money(2_085_000)}),
            );
            set(
                v,
                "/employment",
                json!({"status": "not_in_labor_force", "separation_reason": null}),
            );
        }
        // man born 1965-01-15: retirement at 60y1m = 2025-02-15, exactly 180 months
        4 => {
            set_birth(v, d(1965, 1, 15));
            set(v, "/person/gender", json!("male"));
            remove(v, "/person/female_retirement_category");
            set(
                v,
                "/social_insurance/employee_pension",
                json!({"enrolled": true, "contribution_months": 180}),
            );
            set(
                v,
                "/social_insurance/resident_pension",
                json!({"enrolled": false}),
            );
            set(
                v,
                "/employment",
                json!({"status": "retired", "separation_date": "2025-02-14", "separation_reason": "retirement"}),
            );
        }
        // woman (worker50) born 1975-05-31: retirement 2025-07-31 (not yet)
        5 => {
            set_birth(v, d(1975, 5, 31));
            set(v, "/person/gender", json!("female"));
            set(v, "/person/female_retirement_category", json!("worker50"));
            set(
                v,
                "/social_insurance/employee_pension",
                json!({"enrolled": true, "contribution_months": 300}),
            );
            set(
                v,
                "/social_insurance/resident_pension",
                json!({"enrolled": false}),
            );
        }
        // unemployment benefit with exactly 12 months
        6 => {
            set_birth(v, d(1995, 4, 4));
            unemployed(v);
            set(v, "/social_insurance/unemployment/months_total", json!(12));
        }
        // unemployment benefit: 11 months but 3 months left from the previous claim
        7 => {
            set_birth(v, d(1990, 9, 9));
            unemployed(v);
            set(v, "/social_insurance/unemployment/months_total", json!(60));
            set(
                v,
                "/social_insurance/unemployment/months_since_last_claim",
                json!(11),
            );
            set(
                v,
                "/social_insurance/unemployment/remaining_entitlement_months",
                json!(3),
            );
        }
        // skill certificate issued 2024-07-01 (C4: last day is 2025-07-01)
        8 | 9 => {
            set_birth(v, d(1992, 2, 2));
            set(
                v,
                "/social_insurance/unemployment/months_total",
                json!(if k == 8 { 12 } else { 11 }),
            );
            set(v, "/employment/status", json!("employed"));
            set(
                v,
                "/skill_certificates",
                json!([{
                    "id": "C-B1", "occupation_code": "4-03-02-01", "type": "skill_level", "level": 4,
                    "issue_date": "2024-07-01", "holder_status_at_issue": "employed_insured", "subsidy_paid_date": null
                }]),
            );
        }
        // deliberate evaluation error: two open certificates (policy 3 needs exactly one)
        10 => {
            set(v, "/social_insurance/unemployment/months_total", json!(48));
            set(
                v,
                "/skill_certificates",
                json!([
                    {"id": "C-E1", "occupation_code": "6-31-01-03", "type": "skill_level", "level": 5,
                     "issue_date": "2025-01-10", "holder_status_at_issue": "employed_insured", "subsidy_paid_date": null},
                    {"id": "C-E2", "occupation_code": "4-14-01-01", "type": "skill_level", "level": 4,
                     "issue_date": "2025-03-10", "holder_status_at_issue": "employed_insured", "subsidy_paid_date": null}
                ]),
            );
        }
        // Beijing household with per-capita income exactly 1450 (not below) and 1449.99
        11 => bj_household(v, &[290_000, 0], &[1_000_000, 500_000]),
        12 => bj_household(v, &[289_998, 0], &[1_000_000, 500_000]),
        // per-capita assets exactly 24 × 1450 = 34800, and one cent more
        13 => bj_household(v, &[100_000, 0, 0], &[3_480_000, 3_480_000, 3_480_000]),
        14 => bj_household(v, &[100_000, 0, 0], &[3_480_000, 3_480_000, 3_480_001]),
        // children: born 2022-02-01 (1 month), 2022-01-02 (0 months: C4), 2022-01-01 (C3)
        15..=17 => {
            let cb = [d(2022, 2, 1), d(2022, 1, 2), d(2022, 1, 1)][k - 15];
            set_birth(v, d(1991, 6, 6));
            let id = v["person"]["id"].as_str().unwrap_or("P").to_string();
            let mut members = v["household"]["members"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            members.truncate(1);
            members.push(json!({
                "person_id": format!("{id}-K"), "relationship": "child", "gender": "female",
                "birth_date": date_v(cb), "monthly_income": [], "hukou_registered": true,
                "birth_policy_compliant": true, "applicant_relationship": "mother",
            }));
            set(v, "/household/members", Value::Array(members));
            set(v, "/person/gender", json!("female"));
            set(v, "/person/female_retirement_category", json!("cadre55"));
        }
        // 苏州 founder registered on 2024-07-01 (C6: 12 months on 2025-07-01)
        18 => {
            set_birth(v, d(1999, 8, 8));
            set(
                v,
                "/education",
                json!({"level": "bachelor", "full_time_regular_college": true, "graduation_date": "2023-06-30"}),
            );
            set(
                v,
                "/business",
                json!({"registrations": [{
                    "id": "B-B1", "type": "individual_business", "role": "operator", "region": "苏州",
                    "registration_date": "2024-07-01", "status": "active"
                }]}),
            );
            remove(v, "/benefits");
        }
        // flexible-employment subsidy: 36 months used and retirement exactly 60 months
        // after 2025-07 (a man born 1969-05-15 retires 2030-07-15): "不足5年" is false
        19 => {
            set_birth(v, d(1969, 5, 15));
            set(v, "/person/gender", json!("male"));
            remove(v, "/person/female_retirement_category");
            set(
                v,
                "/employment",
                json!({"status": "flexible", "flexible_registration_region": "上海", "separation_reason": null}),
            );
            set(
                v,
                "/employment_difficulty",
                json!({"certified": true, "certified_date": "2021-03-01", "flexible_subsidy_months_used": 36}),
            );
            set(
                v,
                "/social_insurance/flexible",
                json!({"paid_current_month": true}),
            );
        }
        // unemployed youth: registered 16-year-old with 12 months (age exactly 16 on
        // 2025-07-01 is too young to have paid; instead: age 24 the day before 25)
        20 => {
            set_birth(v, d(2000, 7, 2));
            unemployed(v);
            set(v, "/social_insurance/unemployment/months_total", json!(30));
        }
        // 2022-02-28 child with applicant grandparent who is guardian
        _ => {
            set_birth(v, d(1962, 10, 10));
            let id = v["person"]["id"].as_str().unwrap_or("P").to_string();
            let mut members = v["household"]["members"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            members.truncate(1);
            members.push(json!({
                "person_id": format!("{id}-G"), "relationship": "grandchild",
                "birth_date": "2022-02-28", "monthly_income": [], "hukou_registered": true,
                "birth_policy_compliant": true, "applicant_relationship": "guardian",
            }));
            set(v, "/household/members", Value::Array(members));
            let _ = r;
        }
    }
}

// ---------------------------------------------------------------------------
// Enterprises

const ENTERPRISE_BOUNDARIES: usize = 6;

fn company_name(r: &mut Rng, region: &str) -> String {
    let words = [
        "华信",
        "申通",
        "宏达",
        "恒远",
        "锦程",
        "东昇",
        "浦润",
        "新纪元",
        "瑞丰",
        "启明",
        "汇川",
        "云帆",
        "德馨",
        "嘉禾",
    ];
    let trades = [
        "科技",
        "物流",
        "餐饮管理",
        "商贸",
        "建设工程",
        "电子",
        "文化传媒",
        "医疗器械",
        "家政服务",
        "信息技术",
        "机械制造",
    ];
    let forms = ["有限公司", "股份有限公司", "有限公司", "有限公司"];
    format!(
        "{region}{}{}{}",
        r.pick(&words),
        r.pick(&trades),
        r.pick(&forms)
    )
}

fn credit_code(r: &mut Rng) -> String {
    const CH: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut s = String::from("91");
    s.push_str(&r.digits(6));
    for _ in 0..10 {
        s.push(CH[(r.next() % CH.len() as u64) as usize] as char);
    }
    s
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum HireKind {
    Graduate,
    Youth,
    Hardship,
    Regular,
}

fn gen_hire(r: &mut Rng, eid: &str, k: usize, region: &str, gaps: &mut Vec<&'static str>) -> Value {
    let kind = r.weighted(&[
        (HireKind::Graduate, 0.32),
        (HireKind::Youth, 0.12),
        (HireKind::Hardship, 0.12),
        (HireKind::Regular, 0.44),
    ]);
    let mut start = rand_date(r, d(2024, 1, 2), d(2025, 6, 20));
    let female = r.chance(0.48);
    let mut h = obj();
    h.insert("id".into(), json!(format!("{eid}-H{k}")));
    let (birth, edu, wage): (NaiveDate, Value, i64) = match kind {
        HireKind::Graduate => {
            let (lv, gage) = r.weighted(&[
                (("bachelor", 22), 0.5),
                (("junior_college", 21), 0.3),
                (("master", 25), 0.17),
                (("doctor", 28), 0.03),
            ]);
            let offset = r.weighted(&[(0, 0.55), (1, 0.3), (2, 0.1), (3, 0.05)]);
            let gy = start.year() - offset;
            let gd = d(gy, r.range(6, 7) as u32, r.range(1, 30) as u32);
            if start < gd {
                start = add_days(gd, r.range(1, 60)).min(d(2025, 6, 28));
            }
            let birth = add_days(d(gy - gage, 9, 1), r.range(0, 364));
            if offset == 1 || offset == 2 {
                if r.chance(0.04) {
                    gaps.push("hire.employed_between_graduation_and_hire");
                } else {
                    h.insert(
                        "employed_between_graduation_and_hire".into(),
                        json!(r.chance(0.3)),
                    );
                }
            }
            let gdv = if r.chance(0.015) {
                gaps.push("hire.education.graduation_date");
                Value::Null
            } else {
                date_v(gd)
            };
            let edu = json!({"level": lv, "full_time_regular_college": r.chance(0.92), "graduation_date": gdv});
            (birth, edu, r.range(5000, 15000) * 100)
        }
        HireKind::Youth => {
            let a = r.range(16, 24);
            let birth = add_days(add_months(start, -(a * 12) - 11), r.range(0, 330));
            if r.chance(0.7) {
                h.insert("registered_unemployed_at_hire".into(), json!(true));
            }
            let edu = json!({"level": "secondary", "graduation_date": date_v(d(birth.year() + 18, 7, 1).min(d(2025, 6, 30)))});
            (birth, edu, r.range(2740, 6000) * 100)
        }
        HireKind::Hardship => {
            let a = r.range(38, 62);
            let birth = add_days(d(2025 - a as i32, 1, 1), r.range(0, 364));
            h.insert("employment_difficulty_certified".into(), json!(true));
            let used = if r.chance(0.7) {
                r.range(0, 35)
            } else {
                r.range(36, 50)
            };
            if used > 0 {
                h.insert("hardship_subsidy_months_used".into(), json!(used));
            }
            let edu = json!({"level": if r.chance(0.8) { "secondary" } else { "none" }, "graduation_date": null});
            (birth, edu, r.range(2740, 5200) * 100)
        }
        HireKind::Regular => {
            let a = r.range(25, 55);
            let birth = add_days(d(2025 - a as i32, 1, 1), r.range(0, 364));
            let college = r.chance(0.5);
            let gd = d(birth.year() + 22, 7, 1);
            let edu = if college {
                json!({"level": "bachelor", "full_time_regular_college": r.chance(0.85), "graduation_date": date_v(gd)})
            } else {
                json!({"level": "secondary", "graduation_date": date_v(d(birth.year() + 18, 7, 1))})
            };
            if r.chance(0.04) {
                h.insert("employment_difficulty_certified".into(), json!(true));
            }
            (birth, edu, r.range(5000, 25000) * 100)
        }
    };
    h.insert("name".into(), json!(name(r)));
    let hk = if r.chance(0.6) { "上海" } else { "南通" };
    h.insert("id_number".into(), json!(id_number(r, hk, birth, female)));
    let hardship = kind == HireKind::Hardship;
    if hardship && r.chance(0.06) {
        gaps.push("hire.gender");
        h.insert("gender".into(), Value::Null);
    } else {
        h.insert(
            "gender".into(),
            json!(if female { "female" } else { "male" }),
        );
    }
    if r.chance(if hardship { 0.03 } else { 0.003 }) {
        gaps.push("hire.birth_date");
    } else {
        h.insert("birth_date".into(), date_v(birth));
    }
    if female {
        if r.chance(if hardship { 0.07 } else { 0.005 }) {
            gaps.push("hire.female_retirement_category");
        } else {
            h.insert(
                "female_retirement_category".into(),
                json!(if r.chance(0.6) { "worker50" } else { "cadre55" }),
            );
        }
    }
    let signed = r.chance(0.96);
    h.insert("contract_signed".into(), json!(signed));
    if kind == HireKind::Graduate && r.chance(0.01) {
        gaps.push("hire.contract_start_date");
        h.insert("contract_start_date".into(), Value::Null);
    } else {
        h.insert("contract_start_date".into(), date_v(start));
    }
    h.insert(
        "contract_end_date".into(),
        date_v(add_months(start, 12 * r.range(1, 3))),
    );
    h.insert("monthly_wage".into(), money(wage));
    h.insert("education".into(), edu);
    let mut si_months = month_diff(start, d(2025, 6, 1)).max(0);
    if r.chance(0.1) {
        si_months = (si_months - r.range(1, 4)).max(0);
    }
    if si_months > 0 {
        h.insert("si_full_months_for_hire".into(), json!(si_months));
    }
    if r.chance(0.04) {
        h.insert("prior_job_expansion_subsidy_used".into(), json!(true));
    }
    if r.chance(if hardship { 0.3 } else { 0.04 }) {
        h.insert("absorption_subsidy_claimed_for_hire".into(), json!(true));
    }
    if signed && r.chance(if region == "上海" { 0.92 } else { 0.1 }) {
        h.insert("si_paid_current_month".into(), json!(true));
    }
    if r.chance(0.02) {
        h.insert("active_employee_insurance_elsewhere".into(), json!(true));
    }
    h.insert("has_social_security_card".into(), json!(r.chance(0.9)));
    if kind == HireKind::Graduate && r.chance(0.3) {
        h.insert("archive_transfer_requested".into(), json!(true));
    }
    Value::Object(h)
}

fn gen_enterprise(seed: u64, j: usize, count: usize) -> Person {
    let mut r = Rng::new(seed, 2, j as u64);
    let id = format!("E{:05}", j + 1);
    let mut gaps: Vec<&'static str> = vec![];
    let entity = r.weighted(&[
        ("enterprise", 0.85),
        ("social_group", 0.03),
        ("foundation", 0.01),
        ("social_service_org", 0.03),
        ("law_firm", 0.02),
        ("accounting_firm", 0.01),
        ("individual_business_unit", 0.03),
        ("public_institution", 0.015),
        ("government_organ", 0.005),
    ]);
    let size = r.weighted(&[
        ("micro", 0.45),
        ("small", 0.35),
        ("medium", 0.15),
        ("large", 0.05),
    ]);
    let region = r.weighted(&[
        ("上海", 0.85),
        ("苏州", 0.08),
        ("北京", 0.04),
        ("杭州", 0.03),
    ]);
    let status = r.weighted(&[("active", 0.94), ("deregistered", 0.03), ("revoked", 0.03)]);
    let young = r.chance(0.1);
    let paid_months = if young {
        r.range(0, 11)
    } else {
        r.range(12, 300)
    };
    let (lo, hi) = match size {
        "micro" => (1, 9),
        "small" => (10, 99),
        "medium" => (100, 999),
        _ => (1000, 6000),
    };
    let mut e = obj();
    e.insert("id".into(), json!(id));
    e.insert("name".into(), json!(company_name(&mut r, region)));
    e.insert("credit_code".into(), json!(credit_code(&mut r)));
    if r.chance(0.005) {
        gaps.push("entity_type");
    } else {
        e.insert("entity_type".into(), json!(entity));
    }
    if entity == "enterprise" || r.chance(0.5) {
        if r.chance(0.006) {
            gaps.push("size_class");
            e.insert("size_class".into(), Value::Null);
        } else {
            e.insert("size_class".into(), json!(size));
        }
    }
    if r.chance(0.008) {
        gaps.push("region");
        e.insert("region".into(), Value::Null);
    } else {
        e.insert("region".into(), json!(region));
    }
    e.insert("business_status".into(), json!(status));
    if r.chance(0.02) {
        e.insert("serious_dishonesty_listed".into(), json!(true));
    }
    let reserve = match region {
        "上海" => "18.6",
        "苏州" => "14.2",
        "北京" => "22.3",
        _ => "9.8",
    };
    let mut ui = obj();
    ui.insert("paid_months_cumulative".into(), json!(paid_months));
    if r.chance(0.05) {
        ui.insert("arrears_amount".into(), money(r.range(50_000, 5_000_000)));
    }
    if r.chance(0.01) {
        gaps.push("ui.pool_fund_reserve_months");
    } else {
        ui.insert(
            "pool_fund_reserve_months".into(),
            dec(reserve.parse().expect("decimal")),
        );
    }
    e.insert("ui".into(), Value::Object(ui));
    // previous year: a new unit has no insured staff yet (its layoff rate is undefined,
    // but it fails C2 anyway)
    let mut py = obj();
    if young && paid_months < 6 {
        py.insert("insured_start".into(), json!(0));
        py.insert("insured_end".into(), json!(0));
        py.insert("avg_insured".into(), json!(0));
        py.insert("ui_contributions_paid".into(), money(0));
    } else {
        let avg = r.range(lo, hi);
        let start = (avg as f64 * (0.9 + 0.2 * r.f())).round() as i64;
        let retired = if avg > 20 && r.chance(0.4) {
            r.range(1, (avg / 30).max(1))
        } else {
            0
        };
        // most units keep their staff; some shrink a lot
        let layoffs = if r.chance(0.8) {
            r.range(0, (avg as f64 * 0.05) as i64)
        } else {
            r.range(0, (avg as f64 * 0.35).ceil() as i64)
        };
        let hires = r.range(0, (avg as f64 * 0.1).ceil() as i64);
        let end = (start - retired - layoffs + hires).max(0);
        py.insert("insured_start".into(), json!(start));
        if r.chance(0.008) {
            gaps.push("prev_year.insured_end");
        } else {
            py.insert("insured_end".into(), json!(end));
        }
        if retired > 0 {
            py.insert("retired_or_deceased".into(), json!(retired));
        }
        if r.chance(0.012) {
            gaps.push("prev_year.avg_insured");
        } else {
            py.insert("avg_insured".into(), json!(avg));
        }
        // UI: 0.5 % employer + 0.5 % employee of a 7460–30000 base, 12 months
        let base = r.range(7460, 30000);
        let paid = avg * base * 12; // in cents: × 1 % × 100
        if r.chance(0.01) {
            gaps.push("prev_year.ui_contributions_paid");
        } else {
            py.insert("ui_contributions_paid".into(), money(paid));
        }
    }
    e.insert("prev_year".into(), Value::Object(py));
    let n_hires = if status == "active" {
        r.weighted(&[
            (0usize, 0.15),
            (1, 0.2),
            (2, 0.2),
            (3, 0.15),
            (4, 0.12),
            (5, 0.1),
            (6, 0.08),
        ])
    } else {
        0
    };
    let mut hires = vec![];
    for k in 1..=n_hires {
        let h = gen_hire(&mut r, &id, k, region, &mut gaps);
        hires.push(h);
    }
    e.insert("hires".into(), Value::Array(hires));
    let mut v = json!({"enterprise": Value::Object(e)});
    if let Some(k) = boundary_slot(j, count, ENTERPRISE_BOUNDARIES) {
        enterprise_boundary(&mut v, k);
        gaps.clear();
    }
    Person { v, gaps }
}

fn enterprise_boundary(v: &mut Value, k: usize) {
    let base = |v: &mut Value| {
        set(v, "/enterprise/entity_type", json!("enterprise"));
        set(v, "/enterprise/size_class", json!("small"));
        set(v, "/enterprise/region", json!("上海"));
        set(v, "/enterprise/business_status", json!("active"));
        remove(v, "/enterprise/serious_dishonesty_listed");
        set(
            v,
            "/enterprise/ui",
            json!({"paid_months_cumulative": 12, "pool_fund_reserve_months": dec("18.6".parse().expect("dec"))}),
        );
    };
    match k {
        // layoff rate exactly 0.20 with 30 average insured (≤ 30 → limit 20 %)
        0 => {
            base(v);
            set(
                v,
                "/enterprise/prev_year",
                json!({"insured_start": 32, "insured_end": 26, "avg_insured": 30, "ui_contributions_paid": money(3_240_000)}),
            );
        }
        // layoff rate exactly 0.055 with 200 average insured
        1 => {
            base(v);
            set(
                v,
                "/enterprise/prev_year",
                json!({"insured_start": 205, "insured_end": 192, "retired_or_deceased": 2, "avg_insured": 200, "ui_contributions_paid": money(21_600_000)}),
            );
        }
        // one more layoff than allowed: 12/200 = 0.06
        2 => {
            base(v);
            set(
                v,
                "/enterprise/prev_year",
                json!({"insured_start": 205, "insured_end": 191, "retired_or_deceased": 2, "avg_insured": 200, "ui_contributions_paid": money(21_600_000)}),
            );
        }
        // deliberate evaluation error: 0 average insured with 12 paid months (division by zero)
        3 => {
            base(v);
            set(
                v,
                "/enterprise/prev_year",
                json!({"insured_start": 0, "insured_end": 0, "avg_insured": 0, "ui_contributions_paid": money(0)}),
            );
        }
        // hires at the job-expansion thresholds: exactly 3 SI months; a hire aged 16 at
        // the contract start and one aged 24 on the day before the 25th birthday
        4 => {
            base(v);
            set(
                v,
                "/enterprise/hires",
                json!([
                    {"id": "HB-1", "gender": "male", "birth_date": "2001-05-10", "contract_signed": true,
                     "contract_start_date": "2025-03-01", "education": {"level": "bachelor", "full_time_regular_college": true, "graduation_date": "2025-01-15"},
                     "si_full_months_for_hire": 3, "si_paid_current_month": true},
                    {"id": "HB-2", "gender": "female", "female_retirement_category": "worker50", "birth_date": "2008-02-01", "contract_signed": true,
                     "contract_start_date": "2024-02-01", "registered_unemployed_at_hire": true,
                     "education": {"level": "secondary", "graduation_date": null}, "si_full_months_for_hire": 16},
                    {"id": "HB-3", "gender": "male", "birth_date": "1999-03-02", "contract_signed": true,
                     "contract_start_date": "2024-03-01", "registered_unemployed_at_hire": true,
                     "education": {"level": "secondary", "graduation_date": null}, "si_full_months_for_hire": 15}
                ]),
            );
        }
        // hardship hires with 36 months used: retirement 25 months after 2025-07 (a man born
        // 1967-01-15 retires 2027-08-15) and 23 months (born 1966-12-15: 2027-06-15); no
        // birth month retires in 2027-07, the cohort steps jump over it
        _ => {
            base(v);
            set(
                v,
                "/enterprise/hires",
                json!([
                    {"id": "HB-4", "gender": "male", "birth_date": "1967-01-15", "contract_signed": true,
                     "contract_start_date": "2022-03-01", "employment_difficulty_certified": true, "hardship_subsidy_months_used": 36,
                     "si_paid_current_month": true, "education": {"level": "secondary", "graduation_date": null}},
                    {"id": "HB-5", "gender": "male", "birth_date": "1966-12-15", "contract_signed": true,
                     "contract_start_date": "2022-03-01", "employment_difficulty_certified": true, "hardship_subsidy_months_used": 36,
                     "si_paid_current_month": true, "education": {"level": "secondary", "graduation_date": null}}
                ]),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Malformed lines

/// Turns a record into a line the batch must reject; the kinds take turns (`k` is the
/// number of malformed lines written so far): bad JSON, a wrong type, an unknown enum
/// value.
fn malform(v: &mut Value, r: &mut Rng, k: usize) -> String {
    let enterprise = v.get("enterprise").is_some();
    match k % 5 {
        0 => {
            // cut off in the middle
            let text: Vec<char> = v.to_string().chars().collect();
            let at = text.len() * (40 + r.range(0, 40) as usize) / 100;
            return text[..at].iter().collect();
        }
        1 if enterprise => set(v, "/enterprise/prev_year/avg_insured", json!("约50人")),
        1 => {
            let b = v["person"]["birth_date"]
                .as_str()
                .unwrap_or("1980-01-01")
                .replace('-', "");
            set(
                v,
                "/person/birth_date",
                json!(b.parse::<u64>().unwrap_or(19800101)),
            );
        }
        2 if enterprise => set(v, "/enterprise/ui/paid_months_cumulative", json!(18.5)),
        2 => set(
            v,
            "/social_insurance/unemployment/months_total",
            json!("二十四个月"),
        ),
        3 if enterprise => set(v, "/enterprise/entity_type", json!("cooperative")),
        3 => set(v, "/employment/status", json!("laid_off")),
        _ if enterprise => set(v, "/enterprise/business_status", json!("suspended")),
        _ => set(v, "/person/gender", json!("unknown")),
    }
    v.to_string()
}

// ---------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: gen_population N SEED > population.jsonl");
        std::process::exit(2);
    }
    let n: usize = args[1].parse().unwrap_or_else(|_| {
        eprintln!("N must be a whole number");
        std::process::exit(2)
    });
    let seed: u64 = args[2].parse().unwrap_or_else(|_| {
        eprintln!("SEED must be a whole number");
        std::process::exit(2)
    });
    let n_ent = n.div_ceil(10);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut gaps, mut bad) = (0usize, 0usize);
    let mut kinds: std::collections::BTreeMap<&'static str, usize> =
        std::collections::BTreeMap::new();
    let total = n + n_ent;
    for idx in 0..total {
        let mut rec = if idx < n {
            gen_person(seed, idx, n)
        } else {
            gen_enterprise(seed, idx - n, n_ent)
        };
        let mut mr = Rng::new(seed, 3, idx as u64);
        let line = if mr.chance(0.005) {
            let line = malform(&mut rec.v, &mut mr, bad);
            bad += 1;
            line
        } else {
            if !rec.gaps.is_empty() {
                gaps += 1;
            }
            for g in &rec.gaps {
                *kinds.entry(*g).or_default() += 1;
            }
            rec.v.to_string()
        };
        if writeln!(out, "{line}").is_err() {
            std::process::exit(1);
        }
    }
    if out.flush().is_err() {
        std::process::exit(1);
    }
    eprintln!(
        "{n} persons, {n_ent} enterprises; {gaps} records with a deliberate gap ({:.1} %), {bad} malformed lines",
        100.0 * gaps as f64 / total.max(1) as f64
    );
    let list: Vec<String> = kinds.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!("gaps by field: {}", list.join(", "));
}
