//! Rules + scoring throughput on 20-turn chats, one core: how many
//! conversations per second `Engine::process` scores (conversation
//! building with text normalisation, every rule-pack analyser, scorecard,
//! coaching, result assembly), and the wire conversion the store needs.
//! Run: `cargo bench --bench rules` (criterion prints elements/s =
//! conversations/s). The floor is 10,000 conversations/s.
//!
//! A second group runs the rule-pack analysers alone over the same turns as
//! a typed chat and as a call transcript, where phrase rules also match
//! approximately (toneless pinyin, word edit distance): the cost of that.

use std::path::Path;

use callqa::analyse::{self, Subject};
use callqa::domain::{
    Agent, AgentId, Attribution, ChatJob, Conversation, Job, JobHeader, JobId, Language,
    LanguageChoice, Medium, Message, Metadata, Speaker,
};
use callqa::pipeline::{Engine, EngineOptions};
use callqa::rules::RulePack;
use callqa::wire::ResultWire;
use chrono::{DateTime, Duration};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ZH: [&str; 20] = [
    "你好，我买的空气炸锅三天了还没发货",
    "您好，很高兴为您服务！麻烦提供一下订单号，我帮您查询。",
    "订单号 DD202611020381，下单的时候说两天内发货的",
    "已查到，仓库今天上午已经出库，快递单号是 SF1402938817，预计明天送达。",
    "那明天几点能到？我白天要上班，家里没人",
    "一般在下午六点前派送，快递员送货前会电话联系您，也可以放到快递柜。",
    "放快递柜吧，另外能不能给点补偿，等太久了",
    "非常抱歉让您久等了，我帮您申请一张 10 元无门槛优惠券，您看可以吗？",
    "可以，谢谢。还有个问题，发票怎么开？",
    "您可以在订单详情页点击“申请发票”，填写抬头和税号即可，电子发票会发到您的邮箱。",
    "公司抬头也可以吗",
    "可以的，企业抬头需要填写统一社会信用代码。",
    "好的，那如果炸锅有问题可以退吗",
    "支持七天无理由退货，质量问题十五天内可以换新，一年内免费保修。",
    "行，明白了",
    "优惠券已经发放到您的账户，下单时会自动抵扣。",
    "收到了",
    "好的，您的快递信息我也给您备注了放快递柜。",
    "谢谢你",
    "不客气，请问还有其他可以帮您的吗？祝您生活愉快！",
];

const EN: [&str; 20] = [
    "Hi, I returned a jacket two weeks ago and haven't seen the refund yet.",
    "Hello, thank you for contacting us! I'm sorry for the wait. Could you share the order number?",
    "Sure, it's 55-20931, I sent it back with the prepaid label on the 3rd.",
    "Thanks. I can see the return arrived at our warehouse on Friday afternoon.",
    "Great, so when will the money be back on my card?",
    "The refund was issued this morning; banks usually take three to five business days to show it.",
    "Ok. Will I get an e-mail when it goes through?",
    "Yes, you'll receive a confirmation e-mail as soon as the bank accepts the transfer.",
    "Perfect. Also, can I exchange the other jacket for a larger size?",
    "Of course. You can start an exchange from your orders page and choose the new size there.",
    "Is the exchange shipping free?",
    "Yes, exchanges ship free of charge within thirty days of delivery.",
    "Nice, and do you have the blue one in large?",
    "Let me check the stock for you, one moment please.",
    "Sure, no rush.",
    "Good news, the blue jacket is in stock in large and ships within one business day.",
    "Awesome, I'll do that today then.",
    "Sounds good. I've added a note to your account in case you need help with it.",
    "Thanks a lot for your help.",
    "You're welcome! Is there anything else I can help you with today? Have a great day!",
];

fn job(lang: Language, texts: &[&str; 20]) -> Job {
    let t0 = DateTime::parse_from_rfc3339("2026-11-02T10:00:00+08:00").expect("time");
    let messages = texts
        .iter()
        .enumerate()
        .map(|(i, t)| Message {
            speaker: if i % 2 == 0 {
                Speaker::Customer
            } else {
                Speaker::Agent
            },
            at: t0 + Duration::seconds(i as i64 * 20),
            text: (*t).to_owned(),
        })
        .collect();
    Job::Chat(ChatJob {
        header: JobHeader {
            id: JobId::new(format!("bench-{lang}")),
            language: LanguageChoice::Fixed(lang),
            agent: Agent {
                id: AgentId::new("A001"),
                name: None,
                team: None,
                role: None,
            },
            metadata: Metadata::default(),
        },
        messages,
    })
}

fn bench(c: &mut Criterion) {
    // Rules and scoring only: the text models have their own benchmark
    // (benches/embed.rs).
    let engine = Engine::load(&EngineOptions {
        rules_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
        models_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
        rules_only: true,
        workers: 1,
        asr: Default::default(),
    })
    .expect("default packs load");
    let mut g = c.benchmark_group("rules_and_scoring_20_turn_chat");
    g.throughput(Throughput::Elements(1));
    for (name, job) in [
        ("zh", job(Language::Zh, &ZH)),
        ("en", job(Language::En, &EN)),
    ] {
        g.bench_function(format!("{name}/process"), |b| {
            b.iter(|| engine.process(std::hint::black_box(&job)).expect("scores"))
        });
        g.bench_function(format!("{name}/process+wire"), |b| {
            b.iter(|| {
                ResultWire::from(&engine.process(std::hint::black_box(&job)).expect("scores"))
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("rule_analysers_20_turns");
    g.throughput(Throughput::Elements(1));
    for (name, lang, texts) in [("zh", Language::Zh, &ZH), ("en", Language::En, &EN)] {
        let pack = RulePack::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("rules")
                .join(name),
        )
        .expect("pack loads");
        let analysers = analyse::build(&pack, None).expect("analysers build");
        for (medium, attribution) in [
            (Medium::Chat, Attribution::Typed),
            (Medium::Call, Attribution::Channels),
        ] {
            let conv = Conversation::from_turns(
                JobId::new("bench"),
                medium,
                lang,
                None,
                texts.iter().enumerate().map(|(i, t)| {
                    let speaker = if i % 2 == 0 {
                        Speaker::Customer
                    } else {
                        Speaker::Agent
                    };
                    (
                        speaker,
                        i as f64 * 6.0,
                        i as f64 * 6.0 + 5.0,
                        (*t).to_owned(),
                    )
                }),
                attribution,
            );
            let meta = Metadata::default();
            g.bench_function(format!("{name}/{}", medium.as_str()), |b| {
                b.iter(|| {
                    analyse::run(
                        &analysers,
                        &Subject {
                            conv: std::hint::black_box(&conv),
                            metadata: &meta,
                            signals: None,
                        },
                    )
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
