//! Throughput of the text models on this machine, both encoders in one
//! run: utterances per second through USE (every turn and clause: intents,
//! semantic rules) and through multilingual-e5-small (customer turns:
//! sentiment), and conversations per second through the whole embed stage
//! on 20-turn chats (10 customer, 10 agent turns of about 20–35 tokens),
//! Chinese and English, on one thread, on two side by side, and as a worker
//! runs them (two jobs at once on this 2-core machine, each thread taking
//! the next chat from a shared queue).
//!
//! Run: scripts/bench-embed.sh (records the load average too). Needs the
//! models (scripts/setup.sh).

use std::path::Path;
use std::time::Duration;

use callqa::domain::{Attribution, Conversation, JobId, Language, Medium, Speaker};
use callqa::embed::{ModelPaths, TextModels};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const EN: &[&str] = &[
    "Hello, I ordered a pair of running shoes last week and they still have not arrived at my house.",
    "I am sorry to hear that, let me check the tracking number of your parcel in our system right now.",
    "The courier says it was delivered yesterday but nobody rang the bell and there is nothing here.",
    "Could you please send me a replacement or refund the payment to my credit card as soon as possible?",
];
const ZH: &[&str] = &[
    "您好，我上周买的跑步鞋到现在还没有收到，物流信息也一直没有更新，麻烦帮我查一下。",
    "非常抱歉给您带来不便，我马上帮您联系快递公司核实一下包裹现在的具体位置。",
    "快递显示昨天已经签收了，但是我家里没有人收到，门口也没有看到任何包裹。",
    "请问可以给我重新发一双吗？或者直接把钱退回到我原来付款的银行卡上也可以。",
];

/// Turns in a benchmark chat.
const TURNS: usize = 20;

fn conversation(lang: Language, n: usize) -> Conversation {
    let texts = if lang == Language::En { EN } else { ZH };
    Conversation::from_turns(
        JobId::new("bench"),
        Medium::Chat,
        lang,
        None,
        (0..n).map(|i| {
            let s = if i % 2 == 0 {
                Speaker::Customer
            } else {
                Speaker::Agent
            };
            (s, i as f64, i as f64, texts[i % texts.len()].to_owned())
        }),
        Attribution::Typed,
    )
}

fn bench(c: &mut Criterion) {
    let paths = ModelPaths::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    let models = TextModels::load(&paths, 2)
        .unwrap_or_else(|e| panic!("the benchmark needs the text models (scripts/setup.sh): {e}"));
    let en = conversation(Language::En, TURNS);
    let zh = conversation(Language::Zh, TURNS);
    for (name, enc) in [
        ("USE", models.encoder()),
        ("e5", models.sentiment_encoder()),
    ] {
        let tokens: Vec<usize> = EN
            .iter()
            .chain(ZH)
            .map(|t| enc.tokenize(t).map(|v| v.len()).unwrap_or(0))
            .collect();
        eprintln!(
            "{name}: utterance length in tokens (with <s> </s>): {tokens:?}, mean {:.1}",
            tokens.iter().sum::<usize>() as f64 / tokens.len() as f64
        );
    }
    let all: Vec<&str> = en.turns.iter().map(|t| t.text.as_str()).collect();
    let customer: Vec<&str> = en
        .turns
        .iter()
        .filter(|t| t.speaker == Speaker::Customer)
        .map(|t| t.text.as_str())
        .collect();

    let mut g = c.benchmark_group("embed");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("use_encoder_20_utterances_1_worker", |b| {
        b.iter(|| models.encoder().embed(&all).expect("inference"))
    });
    // e5 over the English chat's customer turns; over them and their
    // (short) stance clauses, as the embed stage gives it, in batches of
    // similar length; and over one short text, the cost of a run itself.
    let mut with_stance = customer.clone();
    with_stance.extend(
        customer
            .iter()
            .filter_map(|t| callqa::embed::stance::stance_clause(t, Language::En)),
    );
    let short = vec!["ok"];
    for (name, texts) in [
        ("e5_encoder_10_customer_utterances_1_worker", &customer),
        ("e5_encoder_customer_turns_and_stance_clauses", &with_stance),
        ("e5_encoder_one_short_text", &short),
    ] {
        g.throughput(Throughput::Elements(texts.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| models.sentiment_encoder().embed(texts).expect("inference"))
        });
    }
    // One element = one 20-turn conversation: elem/s is conversations/s.
    g.throughput(Throughput::Elements(1));
    g.bench_function("embed_stage_en_20_turn_chat_1_worker", |b| {
        b.iter(|| models.signals(&en).expect("inference"))
    });
    g.bench_function("embed_stage_zh_20_turn_chat_1_worker", |b| {
        b.iter(|| models.signals(&zh).expect("inference"))
    });
    g.throughput(Throughput::Elements(2));
    g.bench_function("embed_stage_zh_en_2_chats_2_workers", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                let a = s.spawn(|| models.signals(&en).expect("inference"));
                let z = s.spawn(|| models.signals(&zh).expect("inference"));
                (a.join().ok(), z.join().ok())
            })
        })
    });
    // As `callqa worker` runs on this machine: as many jobs at once as
    // cores (two), each thread taking the next chat as soon as it is done
    // (the pair above waits for both, so the faster one idles).
    let queue: Vec<&Conversation> = (0..8).map(|i| if i % 2 == 0 { &en } else { &zh }).collect();
    g.throughput(Throughput::Elements(queue.len() as u64));
    g.bench_function("embed_stage_worker_8_chats_zh_en_2_at_once", |b| {
        b.iter(|| {
            let next = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(c) = queue.get(i) else { break };
                        models.signals(c).expect("inference");
                    });
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
