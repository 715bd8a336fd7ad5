//! Evaluation report throughput: how long `report::build` (KPIs per agent
//! and team, first-contact resolution, rescoring of dismissed flags,
//! composite scores, forced-distribution grades, coaching) and the HTML
//! page take for a month of 10,000 scored chats by 100 agents in 10 teams.
//! The results are made by the real engine (rules + scorecard) from
//! generated chats; 5 % of their flags are dismissed. Run:
//! `cargo bench --bench report` (criterion prints time per report and
//! elements/s = results/s).

use std::collections::BTreeMap;
use std::path::Path;

use callqa::domain::{
    Agent, AgentId, ChatJob, Csat, Job, JobHeader, JobId, Language, LanguageChoice, Message,
    Metadata, Speaker,
};
use callqa::pipeline::{Engine, EngineOptions};
use callqa::report::{self, Inputs, Options, Period, Scheme};
use callqa::rules::PackSet;
use callqa::wire::ResultWire;
use chrono::{DateTime, Duration};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const N: usize = 10_000;

fn chat(i: usize) -> Job {
    let agent = i % 100;
    let polite = i % 7 != 0;
    let t0 = DateTime::parse_from_rfc3339("2026-11-01T09:00:00+08:00").unwrap()
        + Duration::minutes((i * 4) as i64);
    let lines: [(Speaker, i64, &str); 4] = [
        (Speaker::Customer, 0, "Hi, my parcel has not arrived yet"),
        (
            Speaker::Agent,
            if i % 5 == 0 { 45 } else { 12 },
            if polite {
                "Hello, thank you for contacting us, how can I help you today?"
            } else {
                "That's not my department, ask someone else"
            },
        ),
        (
            Speaker::Customer,
            60,
            if i % 11 == 0 {
                "I will file a complaint"
            } else {
                "Order 42"
            },
        ),
        (
            Speaker::Agent,
            90,
            "It arrives tomorrow. Is there anything else I can help you with?",
        ),
    ];
    Job::Chat(ChatJob {
        header: JobHeader {
            id: JobId::new(format!("bench-{i}")),
            language: LanguageChoice::Fixed(Language::En),
            agent: Agent {
                id: AgentId::new(format!("A{agent:03}")),
                name: Some(format!("Agent {agent}")),
                team: Some(format!("T{}", agent % 10)),
                role: Some(["after_sales", "pre_sales", "complaints"][agent % 3].into()),
            },
            metadata: Metadata {
                customer_id: Some(format!("C{}", (i * 7919) % 6000)),
                csat: (i % 3 != 0).then_some(Csat {
                    score: (3 + i % 3) as f64,
                    scale: 5.0,
                }),
                resolved: Some(i % 9 != 0),
                ..Default::default()
            },
        },
        messages: lines
            .iter()
            .map(|&(speaker, s, text)| Message {
                speaker,
                at: t0 + Duration::seconds(s),
                text: text.to_owned(),
            })
            .collect(),
    })
}

fn bench(c: &mut Criterion) {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    // Rules and scoring only: the text models have their own benchmark.
    let engine = Engine::load(&EngineOptions {
        rules_dir: rules.clone(),
        models_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
        rules_only: true,
        workers: 1,
        asr: Default::default(),
    })
    .expect("rule packs load");
    let packs = PackSet::load(&rules).unwrap();
    let results: Vec<ResultWire> = (0..N)
        .map(|i| ResultWire::from(&engine.process(&chat(i)).expect("scored")))
        .collect();
    let dismissed: Vec<(String, usize)> = results
        .iter()
        .filter(|r| !r.flags.is_empty())
        .step_by(20)
        .map(|r| (r.job_id.clone(), 0))
        .collect();
    let inputs = Inputs {
        results,
        dismissed,
        supervisor: BTreeMap::new(),
        plans: Vec::new(),
    };
    let scheme = Scheme::load(&rules.join("evaluation.toml")).unwrap();
    let period = Period::parse("2026-11", scheme.utc_offset).unwrap();
    let opts = Options {
        scheme: &scheme,
        period: &period,
        team: None,
        agent: None,
        lang: None,
        packs: Some(&packs),
    };
    let r = report::build(&inputs, &opts);
    assert_eq!(r.agents.len(), 100);
    assert!(
        r.overall.contacts > 9_000,
        "{} contacts in November",
        r.overall.contacts
    );

    let mut g = c.benchmark_group("report");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("build_10k_results", |b| {
        b.iter(|| report::build(&inputs, &opts))
    });
    g.bench_function("html_page", |b| {
        b.iter(|| report::html::page(&r, Language::En))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
