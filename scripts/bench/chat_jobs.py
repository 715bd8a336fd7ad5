#!/usr/bin/env python3
"""Writes realistic 20-turn chat jobs (JSON lines) for scripts/bench-queue.sh.

Half Mandarin, half English; turns are drawn from templates of an
e-commerce after-sales conversation (order status, refund, address change),
with agent lines that sometimes break a rule (buck-passing, rudeness, a
promise, a phone number) so roughly a third of the jobs raise flags, as in
real QA samples. Deterministic for a given --seed.

Usage: chat_jobs.py --count N --prefix ID_PREFIX [--seed S] > jobs.jsonl
"""
import argparse
import json
import random
from datetime import datetime, timedelta, timezone

EN = {
    "open": ["Hello, thank you for contacting us, how can I help you today?",
             "Hi, welcome to customer care, how may I help?"],
    "customer": ["My order has not arrived yet and it was due on Monday.",
                 "I would like to know where my parcel is.",
                 "The tracking page has not changed for three days.",
                 "Can I change the delivery address to my office?",
                 "I was charged twice for the same order.",
                 "The item arrived damaged, the box was crushed.",
                 "How long does a refund usually take?",
                 "OK, and will I get an email when it ships?",
                 "That is a bit slow, but fine.",
                 "Alright, thanks for checking."],
    "agent": ["Let me check the order for you, one moment please.",
              "I can see the parcel left the warehouse yesterday evening.",
              "I have updated the delivery address, you will get a confirmation email.",
              "I am sorry about the damage, I have opened a replacement request.",
              "The duplicate charge will be reversed within three to five working days.",
              "You will receive a tracking link by email as soon as it ships.",
              "I understand, I have added a note so the courier calls you first.",
              "Thank you for your patience while I look into this."],
    "bad": ["That is not my department, ask someone else.",
            "I don't care, deal with it.",
            "I guarantee it will arrive today, 100 percent.",
            "Call me on 13812345678 if it does not come."],
    "close": ["Is there anything else I can help you with? Have a great day.",
              "Thanks for your patience, is there anything else you need? Goodbye."],
}
ZH = {
    "open": ["您好，很高兴为您服务，请问有什么可以帮您？", "您好，欢迎咨询，有什么可以帮到您？"],
    "customer": ["我的订单怎么还没到，说好周一送达的。", "我想查一下我的快递到哪里了。",
                 "物流信息三天都没更新了。", "能不能把收货地址改成我公司？",
                 "同一个订单扣了我两次钱。", "收到的东西坏了，箱子都压扁了。",
                 "退款一般要多久？", "好的，发货了会有短信通知吗？",
                 "有点慢，不过可以。", "行，谢谢你帮我查。"],
    "agent": ["我帮您查一下订单，请稍等。", "看到包裹昨天晚上已经从仓库发出了。",
              "地址已经帮您修改好了，稍后会收到确认短信。", "非常抱歉商品有损坏，已经为您提交换货申请。",
              "重复扣款会在三到五个工作日内原路退回。", "发货后会第一时间短信通知您物流单号。",
              "理解您的心情，我已经备注让快递员送货前先联系您。", "感谢您的耐心等待，我正在为您核实。"],
    "bad": ["这个不归我管，你找别人吧。", "说了多少遍了，你听不懂吗？",
            "我保证今天之内一定送到。", "有问题打我手机13812345678。"],
    "close": ["请问还有其他可以帮您的吗？祝您生活愉快。", "感谢您的咨询，还有什么需要随时联系我们，再见。"],
}


def job(rng, job_id, i):
    lang = "zh" if i % 2 == 0 else "en"
    t = EN if lang == "en" else ZH
    flagged = rng.random() < 0.33
    bad_turn = rng.randrange(1, 9) if flagged else -1
    at = datetime(2026, 11, 2, 9, 0, tzinfo=timezone(timedelta(hours=8))) + timedelta(seconds=i * 37 % 86400)
    messages = []
    for turn in range(10):
        at += timedelta(seconds=rng.randint(5, 40))
        messages.append({"speaker": "customer", "at": at.isoformat(), "text": rng.choice(t["customer"])})
        at += timedelta(seconds=rng.randint(4, 25))
        if turn == 0:
            text = rng.choice(t["open"])
        elif turn == 9:
            text = rng.choice(t["close"])
        elif turn == bad_turn:
            text = rng.choice(t["bad"])
        else:
            text = rng.choice(t["agent"])
        messages.append({"speaker": "agent", "at": at.isoformat(), "text": text})
    return {
        "id": job_id,
        "kind": "chat",
        "language": lang,
        "agent": {"id": f"agent-{i % 40:02d}", "team": f"team-{i % 4}"},
        "messages": messages,
        "metadata": {"channel": "web", "customer_id": f"c{i:07d}", "started_at": messages[0]["at"]},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first job number")
    a = ap.parse_args()
    rng = random.Random(a.seed * 1_000_003 + a.start)
    out = []
    for i in range(a.start, a.start + a.count):
        out.append(json.dumps(job(rng, f"{a.prefix}-{i:08d}", i), ensure_ascii=False))
    print("\n".join(out))


if __name__ == "__main__":
    main()
