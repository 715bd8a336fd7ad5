//! Table-driven tests of every rule kind in the shipped Chinese and English
//! packs, positives and negatives: each case lists the rules that must fire
//! and the rules that must stay silent.

use std::path::Path;

use callqa::analyse::{self, Subject};
use callqa::domain::{Attribution, Conversation, JobId, Language, Medium, Metadata, Speaker};
use callqa::rules::RulePack;

use Speaker::{Agent as A, Customer as C};

fn pack(lang: &str) -> RulePack {
    RulePack::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("rules")
            .join(lang),
    )
    .expect("default pack loads")
}

struct Case {
    name: &'static str,
    medium: Medium,
    channel: Option<&'static str>,
    turns: &'static [(Speaker, f64, &'static str)],
    fires: &'static [&'static str],
    silent: &'static [&'static str],
}

const CHAT: Medium = Medium::Chat;
const CALL: Medium = Medium::Call;

fn conv(lang: Language, c: &Case) -> Conversation {
    Conversation::from_turns(
        JobId::new(c.name),
        c.medium,
        lang,
        c.channel.map(str::to_owned),
        c.turns.iter().map(|&(s, t, x)| {
            (
                s,
                t,
                t + if c.medium == CALL { 2.0 } else { 0.0 },
                x.to_owned(),
            )
        }),
        if c.medium == CALL {
            Attribution::Channels
        } else {
            Attribution::Typed
        },
    )
}

fn run(lang: Language, pack: &RulePack, cases: &[Case]) {
    let analysers = analyse::build(pack, None).expect("rules-only analysers build");
    let mut failures = Vec::new();
    for c in cases {
        let conv = conv(lang, c);
        let meta = Metadata::default();
        let a = analyse::run(
            &analysers,
            &Subject {
                conv: &conv,
                metadata: &meta,
                signals: None,
            },
        );
        let fired: Vec<&str> = a.flags.iter().map(|f| f.rule.as_str()).collect();
        for want in c.fires {
            if !fired.contains(want) {
                failures.push(format!(
                    "{}: expected {want} to fire; fired {fired:?}",
                    c.name
                ));
            }
        }
        for not in c.silent {
            if fired.contains(not) {
                failures.push(format!(
                    "{}: expected {not} to stay silent; fired {fired:?}",
                    c.name
                ));
            }
        }
        // Every flag carries evidence a human can check.
        for f in &a.flags {
            if f.evidence.is_empty()
                || f.evidence
                    .iter()
                    .any(|e| e.text.is_empty() || e.end < e.start)
            {
                failures.push(format!(
                    "{}: flag {} has no usable evidence",
                    c.name, f.rule
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const ZH_OPEN: (Speaker, f64, &str) = (A, 5.0, "您好，很高兴为您服务，请问有什么可以帮您？");
const ZH_CLOSE: (Speaker, f64, &str) = (
    A,
    60.0,
    "请问还有其他可以帮您的吗？感谢您的咨询，祝您生活愉快！",
);

const ZH_CASES: &[Case] = &[
    Case {
        name: "clean chat raises nothing",
        medium: CHAT,
        channel: None,
        turns: &[
            (C, 0.0, "你好，我的快递三天了还没到"),
            ZH_OPEN,
            (C, 20.0, "订单号是 DD20261102001"),
            (A, 40.0, "已为您查询，包裹今天下午派送，请留意电话。"),
            (C, 50.0, "好的谢谢"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &[
            "greeting",
            "closing",
            "buck_passing",
            "rudeness",
            "unauthorized_promise",
            "pii",
            "complaint_threat",
            "churn_risk",
            "slow_first_response",
            "slow_response",
        ],
    },
    Case {
        name: "greeting missing",
        medium: CHAT,
        channel: None,
        turns: &[
            (C, 0.0, "在吗"),
            (A, 5.0, "什么事"),
            (A, 8.0, "说吧"),
            (A, 9.0, "您好"),
            ZH_CLOSE,
        ],
        fires: &["greeting"],
        silent: &["closing"],
    },
    Case {
        name: "greeting in traditional full-width form counts",
        medium: CHAT,
        channel: None,
        turns: &[
            (C, 0.0, "在嗎"),
            (A, 5.0, "ＨＩ，您好，很高興為您服務！"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["greeting"],
    },
    Case {
        name: "closing missing",
        medium: CHAT,
        channel: None,
        turns: &[
            (C, 0.0, "在吗"),
            ZH_OPEN,
            (C, 10.0, "查下物流"),
            (A, 20.0, "明天到。"),
        ],
        fires: &["closing"],
        silent: &["greeting"],
    },
    Case {
        name: "buck-passing",
        medium: CHAT,
        channel: None,
        turns: &[
            (C, 0.0, "快递被压坏了"),
            ZH_OPEN,
            (A, 10.0, "这个不归我管，你找快递去吧"),
            ZH_CLOSE,
        ],
        fires: &["buck_passing"],
        silent: &["rudeness"],
    },
    Case {
        name: "buck-passing by pattern",
        medium: CHAT,
        channel: None,
        turns: &[ZH_OPEN, (A, 10.0, "退款的事不是我们负责的"), ZH_CLOSE],
        fires: &["buck_passing"],
        silent: &[],
    },
    Case {
        name: "negated buck-passing does not fire",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "不是不归我管，是需要售后专员处理，我马上帮您转接"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["buck_passing"],
    },
    Case {
        name: "quoted buck-passing does not fire",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (
                A,
                10.0,
                "您说之前的客服跟您讲“不归我管”，非常抱歉，这是不对的",
            ),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["buck_passing"],
    },
    Case {
        name: "buck-passing split by a comma is not buck-passing",
        medium: CHAT,
        channel: None,
        turns: &[ZH_OPEN, (A, 10.0, "不，归我管，我来处理"), ZH_CLOSE],
        fires: &[],
        silent: &["buck_passing"],
    },
    Case {
        name: "rudeness",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (C, 10.0, "什么意思？"),
            (A, 20.0, "说了多少遍了，你听不懂吗？"),
            ZH_CLOSE,
        ],
        fires: &["rudeness"],
        silent: &["buck_passing"],
    },
    Case {
        name: "unauthorised promise",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "我保证一定给您退款，明天就到账"),
            ZH_CLOSE,
        ],
        fires: &["unauthorized_promise"],
        silent: &[],
    },
    Case {
        name: "cannot promise is not a promise",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (
                A,
                10.0,
                "我不能保证一定能退，审核通过后一般 1-3 个工作日到账",
            ),
            (A, 20.0, "这个我也不能百分之百确定"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["unauthorized_promise"],
    },
    Case {
        name: "card number read out in chat (Luhn valid)",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "您的卡号是6222 0212 3456 7894对吗"),
            ZH_CLOSE,
        ],
        fires: &["pii"],
        silent: &[],
    },
    Case {
        name: "card-like number failing Luhn in chat does not fire",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "您的卡号是6222 0212 3456 7890对吗"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["pii"],
    },
    Case {
        name: "mobile number in Chinese numerals",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "您留的手机是一三八一二三四五六七八"),
            ZH_CLOSE,
        ],
        fires: &["pii"],
        silent: &[],
    },
    Case {
        name: "resident ID with valid checksum",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "身份证号11010519491231002X已登记"),
            ZH_CLOSE,
        ],
        fires: &["pii"],
        silent: &[],
    },
    Case {
        name: "resident ID with wrong checksum in chat does not fire",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "身份证号110105194912310021已登记"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["pii"],
    },
    Case {
        name: "customer giving their own number is not exposure",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (C, 8.0, "我手机13812345678"),
            (A, 10.0, "好的，已记录您尾号5678的手机"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["pii"],
    },
    Case {
        name: "transcribed card number with a dropped digit counts in calls",
        medium: CALL,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "您的银行卡号是六二二二零二一二三四五六七八九零"),
            ZH_CLOSE,
        ],
        fires: &["pii"],
        silent: &[],
    },
    Case {
        name: "the same digits in a chat need the checksum",
        medium: CHAT,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "您的银行卡号是六二二二零二一二三四五六七八九零"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["pii"],
    },
    Case {
        name: "order numbers are not personal data",
        medium: CALL,
        channel: None,
        turns: &[
            ZH_OPEN,
            (A, 10.0, "您的订单号是二零二六一一零二零零一二三四"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["pii"],
    },
    Case {
        name: "complaint threat",
        medium: CHAT,
        channel: None,
        turns: &[(C, 0.0, "再不解决我就打12315投诉你们"), ZH_OPEN, ZH_CLOSE],
        fires: &["complaint_threat"],
        silent: &["churn_risk"],
    },
    Case {
        name: "escalation to a manager, traditional characters",
        medium: CHAT,
        channel: None,
        turns: &[(C, 0.0, "叫你們領導來"), ZH_OPEN, ZH_CLOSE],
        fires: &["complaint_threat"],
        silent: &[],
    },
    Case {
        name: "negated complaint does not fire",
        medium: CHAT,
        channel: None,
        turns: &[(C, 0.0, "我不是要投诉，只是想问问进度"), ZH_OPEN, ZH_CLOSE],
        fires: &[],
        silent: &["complaint_threat"],
    },
    Case {
        name: "churn risk",
        medium: CHAT,
        channel: None,
        turns: &[(C, 0.0, "太失望了，我要销户，换别家"), ZH_OPEN, ZH_CLOSE],
        fires: &["churn_risk"],
        silent: &["complaint_threat"],
    },
    Case {
        name: "slow first response on chat",
        medium: CHAT,
        channel: None,
        turns: &[
            (C, 0.0, "在吗"),
            (A, 45.0, "您好，很高兴为您服务"),
            ZH_CLOSE,
        ],
        fires: &["slow_first_response"],
        silent: &["slow_response"],
    },
    Case {
        name: "slow average response",
        medium: CHAT,
        channel: Some("wechat"),
        turns: &[
            (C, 0.0, "在吗"),
            (A, 10.0, "您好，很高兴为您服务"),
            (C, 20.0, "查订单"),
            (A, 400.0, "查到了"),
            (C, 410.0, "好"),
            (A, 420.0, "感谢您的咨询，再见"),
        ],
        fires: &["slow_response"],
        silent: &["slow_first_response"],
    },
    Case {
        name: "a channel without limits is not timed",
        medium: CHAT,
        channel: Some("email"),
        turns: &[
            (C, 0.0, "在吗"),
            (A, 4000.0, "您好，很高兴为您服务"),
            ZH_CLOSE,
        ],
        fires: &[],
        silent: &["slow_first_response", "slow_response"],
    },
];

#[test]
fn chinese_pack_rules() {
    run(Language::Zh, &pack("zh"), ZH_CASES);
}

const EN_OPEN: (Speaker, f64, &str) = (
    A,
    5.0,
    "Hello, thank you for contacting us, how can I help you today?",
);
const EN_CLOSE: (Speaker, f64, &str) = (
    A,
    60.0,
    "Is there anything else I can help you with? Have a great day!",
);

const EN_CASES: &[Case] = &[
    Case { name: "clean chat raises nothing", medium: CHAT, channel: None,
        turns: &[(C, 0.0, "Hi, my parcel hasn't arrived"), EN_OPEN, (C, 15.0, "Order 88231"), (A, 30.0, "It is out for delivery and should reach you this afternoon."), (C, 40.0, "Great, thanks"), EN_CLOSE],
        fires: &[], silent: &["greeting", "closing", "buck_passing", "rudeness", "unauthorized_promise", "pii", "complaint_threat", "churn_risk", "slow_first_response", "slow_response"] },
    Case { name: "greeting missing; 'this' is not 'hi'", medium: CHAT, channel: None,
        turns: &[(C, 0.0, "Anyone there?"), (A, 5.0, "This is Anna. What do you want?"), EN_CLOSE],
        fires: &["greeting"], silent: &["closing"] },
    Case { name: "greeting in capitals", medium: CHAT, channel: None,
        turns: &[(A, 1.0, "HELLO, THANKS FOR CALLING!"), EN_CLOSE],
        fires: &[], silent: &["greeting"] },
    Case { name: "closing missing", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (C, 10.0, "Where is my order?"), (A, 20.0, "Arriving tomorrow.")],
        fires: &["closing"], silent: &["greeting"] },
    Case { name: "buck-passing", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "Sorry, that's not my department. Call someone else."), EN_CLOSE],
        fires: &["buck_passing"], silent: &[] },
    Case { name: "warm transfer is not buck-passing", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "That's not my department, but let me transfer you to billing right away."), EN_CLOSE],
        fires: &[], silent: &["buck_passing"] },
    Case { name: "rudeness", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "Are you deaf? I said it ships Monday."), EN_CLOSE],
        fires: &["rudeness"], silent: &[] },
    Case { name: "unauthorised promise", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "I guarantee you'll have the refund tomorrow."), EN_CLOSE],
        fires: &["unauthorized_promise"], silent: &[] },
    Case { name: "I can't guarantee is not a promise", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "I can't guarantee a date, but refunds usually take 3 to 5 days. It is not guaranteed."), EN_CLOSE],
        fires: &[], silent: &["unauthorized_promise"] },
    Case { name: "quoted promise is reported speech", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "I see the last agent wrote \"I guarantee it\"; I'm sorry, that was wrong."), EN_CLOSE],
        fires: &[], silent: &["unauthorized_promise"] },
    Case { name: "card number spelled out in words", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "Your card is four one one one one one one one one one one one one one one one, right?"), EN_CLOSE],
        fires: &["pii"], silent: &[] },
    Case { name: "e-mail address read back", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "I have your e-mail as john.smith@example.com"), EN_CLOSE],
        fires: &["pii"], silent: &[] },
    Case { name: "spoken e-mail address in a call", medium: CALL, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "so that's john dot smith at example dot com"), EN_CLOSE],
        fires: &["pii"], silent: &[] },
    Case { name: "last four digits only is fine", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "Can you confirm the card ending in 1111?"), EN_CLOSE],
        fires: &[], silent: &["pii"] },
    Case { name: "Luhn near-miss in chat", medium: CHAT, channel: None,
        turns: &[EN_OPEN, (A, 10.0, "Card 4111 1111 1111 1112 is on file"), EN_CLOSE],
        fires: &[], silent: &["pii"] },
    Case { name: "complaint threat", medium: CHAT, channel: None,
        turns: &[(C, 0.0, "This is ridiculous, I want to speak to your manager."), EN_OPEN, EN_CLOSE],
        fires: &["complaint_threat"], silent: &["churn_risk"] },
    Case { name: "negated complaint", medium: CHAT, channel: None,
        turns: &[(C, 0.0, "I'm not going to file a complaint, I just want it fixed."), EN_OPEN, EN_CLOSE],
        fires: &[], silent: &["complaint_threat"] },
    Case { name: "churn risk", medium: CHAT, channel: None,
        turns: &[(C, 0.0, "I'm not angry, but please cancel my subscription."), EN_OPEN, EN_CLOSE],
        fires: &["churn_risk"], silent: &["complaint_threat"] },
    Case { name: "slow first response", medium: CHAT, channel: None,
        turns: &[(C, 0.0, "hello?"), (A, 31.0, "Hello, how can I help?"), EN_CLOSE],
        fires: &["slow_first_response"], silent: &[] },
];

#[test]
fn english_pack_rules() {
    run(Language::En, &pack("en"), EN_CASES);
}

#[test]
fn forbidden_flags_carry_speaker_time_text_and_highlight() {
    let p = pack("zh");
    let c = Conversation::from_turns(
        JobId::new("e"),
        Medium::Chat,
        Language::Zh,
        None,
        [
            (A, 0.0, 0.0, "您好".to_owned()),
            (A, 12.5, 12.5, "这个不归我管，你找快递".to_owned()),
        ],
        Attribution::Typed,
    );
    let a = analyse::run(
        &analyse::build(&p, None).unwrap(),
        &Subject {
            conv: &c,
            metadata: &Metadata::default(),
            signals: None,
        },
    );
    let f = a
        .flags
        .iter()
        .find(|f| f.rule.as_str() == "buck_passing")
        .expect("buck_passing");
    assert_eq!(f.id.as_str(), "forbidden_phrase");
    assert_eq!(f.message, "坐席推诿：“不归我管”");
    let e = &f.evidence[0];
    assert_eq!(
        (e.speaker, e.start, e.turn, e.highlight),
        (Some(A), 12.5, Some(1), Some((2, 6)))
    );
    assert_eq!(e.text, "这个不归我管，你找快递");
}

#[test]
fn pii_evidence_is_masked() {
    let p = pack("zh");
    let c = Conversation::from_turns(
        JobId::new("m"),
        Medium::Chat,
        Language::Zh,
        None,
        [(A, 0.0, 0.0, "您好，您的手机13812345678".to_owned())],
        Attribution::Typed,
    );
    let a = analyse::run(
        &analyse::build(&p, None).unwrap(),
        &Subject {
            conv: &c,
            metadata: &Metadata::default(),
            signals: None,
        },
    );
    let f = a
        .flags
        .iter()
        .find(|f| f.rule.as_str() == "pii")
        .expect("pii");
    assert_eq!(f.evidence[0].text, "您好，您的手机*******5678");
    assert_eq!(f.message, "坐席完整说出了客户的手机号");
}
