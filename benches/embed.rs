//! Throughput of the text models on this machine: utterances per second
//! through the sentence encoder and the whole embed stage (turns, clauses,
//! stance clauses, sentiment), for a conversation of 32 utterances of about
//! 20 tokens each, Chinese and English alternating — on one worker, and on
//! two workers side by side as the pipeline runs them on 2 cores.
//!
//! Run: `cargo bench --bench embed` (or scripts/bench-embed.sh, which also
//! records the load average). Needs the models (scripts/setup.sh).

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
    let n = 32;
    let en = conversation(Language::En, n);
    let zh = conversation(Language::Zh, n);
    let tokens: Vec<usize> = EN
        .iter()
        .chain(ZH)
        .map(|t| models.encoder().tokenize(t).map(|v| v.len()).unwrap_or(0))
        .collect();
    eprintln!(
        "utterance length in tokens (with <s> </s>): {:?}, mean {:.1}",
        tokens,
        tokens.iter().sum::<usize>() as f64 / tokens.len() as f64
    );
    let texts: Vec<&str> = en.turns.iter().map(|t| t.text.as_str()).collect();

    let mut g = c.benchmark_group("embed");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("encoder_32_utterances_1_worker", |b| {
        b.iter(|| models.embed(&texts).expect("inference"))
    });
    g.bench_function("embed_stage_en_32_utterances_1_worker", |b| {
        b.iter(|| models.signals(&en).expect("inference"))
    });
    g.bench_function("embed_stage_zh_32_utterances_1_worker", |b| {
        b.iter(|| models.signals(&zh).expect("inference"))
    });
    g.throughput(Throughput::Elements(2 * n as u64));
    g.bench_function("embed_stage_zh_en_2x32_utterances_2_workers", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                let a = s.spawn(|| models.signals(&en).expect("inference"));
                let z = s.spawn(|| models.signals(&zh).expect("inference"));
                (a.join().ok(), z.join().ok())
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
