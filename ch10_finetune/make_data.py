"""10.3 / 10.6 数据：生成虚拟网店客服多轮对话数据集与 AdvertiseGen 风格的广告文案数据集（确定性，几秒钟）。

Writes, in the official ChatGLM3 fine-tune formats (see ``common/sft.py``):

* ``customer_service/train.jsonl`` / ``dev.jsonl`` — multi-turn customer-service conversations of a virtual online
  shop (「小智优选」): orders, shipping, returns, refunds, invoices, payment, coupons, ... Some start with a system
  message; some call tools in the official ``{"role": "tool", "name", "parameters", "observation"}`` form with a
  per-record ``"tools"`` list. Policy answers are fixed texts (so exact match on dev is meaningful); the dev split
  asks the same intents with paraphrases the training set never uses, and uses fresh order numbers.
* ``advertise_gen/train.jsonl`` / ``dev.jsonl`` — ``{"content": "类型#上衣*材质#牛仔布*...", "summary": "..."}``
  records like the AdvertiseGen data of the official ``finetune_demo``, written from attribute phrase banks.

Same seed -> byte-identical files (a test checks the committed files against a fresh run).
"""
from __future__ import annotations

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import json
import random
from dataclasses import dataclass
from pathlib import Path

from common.cli import arg, run
from common.paths import DATA_DIR

SHOP = "小智优选"
SYSTEM_PROMPTS = [
    f"你是{SHOP}网上商城的智能客服“小智”，回答要礼貌、简洁、准确。",
    f"你是{SHOP}的在线客服，请根据商城规则回答顾客的问题。",
]

# ---------------------------------------------------------------------------------------------- FAQ intents
# intent -> (training question paraphrases, dev-only paraphrases, fixed answer)
FAQ = {
    "return_policy": (
        ["你们支持七天无理由退货吗？", "买的东西不喜欢可以退吗？", "退货政策是什么？", "收到货不满意能退吗？",
         "我想退货，可以吗？"],
        ["不想要了能退货吗？", "请问可以无理由退货吗？"],
        "支持的。商品签收后7天内，在不影响二次销售的前提下可以申请无理由退货。请在“我的订单”中点击“申请售后”，"
        "选择“退货退款”并填写原因即可。"),
    "return_fee": (
        ["退货的运费谁出？", "退货要我自己付运费吗？", "退回去的邮费怎么算？"],
        ["退货运费由谁承担？"],
        "如果是质量问题，退货运费由我们承担；如果是无理由退货，运费需要您自理，购买了运费险的可以由保险赔付。"),
    "shipping_time": (
        ["下单后多久发货？", "什么时候能发货？", "付款后几天发货？", "今天下单今天能发吗？"],
        ["多久能发出来？", "拍下以后什么时候发货？"],
        "现货商品在付款后24小时内发货，预售商品以商品页标注的时间为准。发货后您可以在“我的订单”里查看物流信息。"),
    "shipping_fee": (
        ["运费怎么算？", "包邮吗？", "买多少钱可以包邮？"],
        ["你们家运费多少？"],
        "单笔订单满99元包邮，不满99元收取运费8元。新疆、西藏等偏远地区另加10元。"),
    "express": (
        ["你们发什么快递？", "用的是哪家快递？", "可以指定快递吗？"],
        ["默认走什么快递？"],
        "默认发顺丰速运和中通快递，系统会根据您的地址自动选择；暂不支持指定快递。"),
    "refund_time": (
        ["退款多久到账？", "钱什么时候退回来？", "退款一般要几天？"],
        ["退款几天能到？"],
        "退款审核通过后会原路退回：支付宝和微信1到3个工作日到账，银行卡3到7个工作日到账。"),
    "invoice": (
        ["可以开发票吗？", "怎么开发票？", "能开增值税专用发票吗？"],
        ["发票怎么开？"],
        "可以开具电子普通发票和增值税专用发票。电子发票在确认收货后24小时内发送到您的邮箱；"
        "专用发票请提供公司名称、税号、开户行和账号。"),
    "change_address": (
        ["地址填错了怎么改？", "下单后还能改收货地址吗？", "我想换个收货地址。"],
        ["收货地址写错了怎么办？"],
        "订单未发货前可以在“我的订单”中点击“修改地址”；如果已经发货，请告诉我订单号，我帮您联系快递改派。"),
    "cancel_order": (
        ["怎么取消订单？", "我不想要了，订单能取消吗？", "下错单了能取消吗？"],
        ["订单怎么撤销？"],
        "未发货的订单可以在“我的订单”中直接点击“取消订单”，款项会原路退回；已发货的订单请在签收后申请退货。"),
    "exchange": (
        ["尺码不合适能换吗？", "可以换颜色吗？", "换货怎么操作？"],
        ["衣服小了能换大一号吗？"],
        "可以换货。签收后7天内在“我的订单”中申请售后并选择“换货”，寄回后我们会在收到商品的2天内发出新的商品。"),
    "warranty": (
        ["保修多久？", "坏了能保修吗？", "有质保吗？"],
        ["质保期是多长时间？"],
        "电子产品享受一年质保，质保期内非人为损坏免费维修；维修寄送的运费由我们承担。"),
    "payment": (
        ["支持哪些付款方式？", "可以用信用卡吗？", "能分期付款吗？"],
        ["怎么付款？"],
        "支持微信支付、支付宝、银联卡和信用卡，满300元的订单还可以使用花呗分期。"),
    "coupon": (
        ["优惠券怎么用？", "优惠券能叠加吗？", "我的优惠券在哪里？"],
        ["怎么使用优惠券？"],
        "在结算页面选择可用的优惠券即可，每笔订单限用一张，不可叠加，也不能兑换现金。优惠券在“我的-优惠券”里查看。"),
    "points": (
        ["积分有什么用？", "积分怎么获得？", "积分可以抵钱吗？"],
        ["会员积分怎么用？"],
        "每消费1元得1积分，100积分可以抵扣1元，结算时勾选“使用积分”即可，积分有效期为一年。"),
    "service_hours": (
        ["人工客服什么时候在？", "怎么转人工？", "客服几点下班？"],
        ["人工客服的工作时间是？"],
        "人工客服在线时间为每天9:00到21:00，在对话框输入“转人工”即可；其他时间我会一直为您服务。"),
    "price_protect": (
        ["买完降价了怎么办？", "有价保吗？", "降价了能退差价吗？"],
        ["能保价吗？"],
        "我们提供7天价格保护，签收后7天内商品降价，可以在订单详情页点击“申请价保”，差价会退回到您的账户。"),
}
GREETINGS_Q = ["你好", "在吗？", "您好，请问有人吗？", "hi，客服在吗"]
GREETING_A = f"您好，我是{SHOP}的客服小智，请问有什么可以帮您？"
THANKS_Q = ["好的，谢谢", "明白了，谢谢你", "知道了，多谢", "谢谢"]
THANKS_A = "不客气，祝您购物愉快！还有其他问题随时找我。"
WHO_Q = ["你是谁？", "你是机器人吗？", "介绍一下你自己"]
WHO_A = f"我是{SHOP}的智能客服小智，可以帮您查询订单、物流，办理退货和开发票，也能解答商城的各种规则。"

# -------------------------------------------------------------------------------------------------- tools
TOOLS = {
    "query_order": {
        "name": "query_order",
        "description": "根据订单号查询订单状态、商品和金额",
        "parameters": {"type": "object",
                       "properties": {"order_id": {"description": "12位订单号", "type": "string"}},
                       "required": ["order_id"]},
    },
    "track_shipment": {
        "name": "track_shipment",
        "description": "根据订单号查询物流信息",
        "parameters": {"type": "object",
                       "properties": {"order_id": {"description": "12位订单号", "type": "string"}},
                       "required": ["order_id"]},
    },
    "apply_return": {
        "name": "apply_return",
        "description": "为订单提交退货申请",
        "parameters": {"type": "object",
                       "properties": {"order_id": {"description": "12位订单号", "type": "string"},
                                      "reason": {"description": "退货原因", "type": "string"}},
                       "required": ["order_id", "reason"]},
    },
    "issue_invoice": {
        "name": "issue_invoice",
        "description": "为订单开具电子发票并发送到邮箱",
        "parameters": {"type": "object",
                       "properties": {"order_id": {"description": "12位订单号", "type": "string"},
                                      "title": {"description": "发票抬头", "type": "string"},
                                      "email": {"description": "接收发票的邮箱", "type": "string"}},
                       "required": ["order_id", "title", "email"]},
    },
}
ITEMS = [("无线蓝牙耳机", 199.0), ("保温杯 500ml", 89.0), ("纯棉T恤", 79.0), ("机械键盘", 329.0),
         ("电动牙刷", 159.0), ("运动跑鞋", 399.0), ("台灯", 129.0), ("双肩背包", 218.0), ("空气炸锅", 299.0),
         ("羊毛围巾", 168.0)]
STATUSES = ["待发货", "已发货", "已签收", "运输中"]
CARRIERS = [("顺丰速运", "SF"), ("中通快递", "ZT")]
CITIES = ["杭州", "上海", "北京", "广州", "成都", "武汉", "南京", "西安", "长沙", "郑州"]
REASONS = ["尺码不合适", "质量问题", "不喜欢颜色", "买错了", "与描述不符"]
TITLES = ["个人", "杭州云帆科技有限公司", "上海青禾贸易有限公司", "北京星河文化传媒有限公司"]
EMAIL_USERS = ["zhang", "li.ming", "wang88", "chen_yu", "liu2024", "zhao.q"]


def _order_id(rng: random.Random) -> str:
    return "2024" + "".join(rng.choice("0123456789") for _ in range(8))


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def _faq_turns(rng: random.Random, split: str, k: int) -> list[dict]:
    msgs = []
    for intent in rng.sample(sorted(FAQ), k):
        train_q, dev_q, answer = FAQ[intent]
        msgs += [_user(rng.choice(dev_q if split == "dev" else train_q)), _assistant(answer)]
        if intent == "return_policy" and rng.random() < 0.5:   # a follow-up that only makes sense in context
            msgs += [_user(rng.choice(["那运费谁出？", "那退货运费呢？"])), _assistant(FAQ["return_fee"][2])]
    return msgs


def _tool_dialog(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """(messages, tools) of one tool-using exchange; sometimes the order number is asked for first."""
    kind = rng.choice(sorted(TOOLS))
    oid = _order_id(rng)
    item, price = rng.choice(ITEMS)
    msgs: list[dict] = []
    ask_first = rng.random() < 0.3

    def ask(question_with_id: str, question_without_id: str) -> None:
        if ask_first:
            msgs.extend([_user(question_without_id), _assistant("好的，请提供一下您的12位订单号。"),
                         _user(f"订单号是{oid}")])
        else:
            msgs.append(_user(question_with_id))

    if kind == "query_order":
        status = rng.choice(STATUSES)
        ask(rng.choice([f"帮我查一下订单{oid}的状态", f"我的订单{oid}现在怎么样了？", f"查询订单 {oid}"]),
            rng.choice(["帮我查一下我的订单", "我想查订单状态"]))
        obs = {"order_id": oid, "status": status, "item": item, "amount": price}
        msgs.append({"role": "tool", "name": kind, "parameters": {"order_id": oid}, "observation": obs})
        msgs.append(_assistant(f"您的订单{oid}购买的是{item}，实付{price:.2f}元，当前状态：{status}。"))
    elif kind == "track_shipment":
        carrier, prefix = rng.choice(CARRIERS)
        no = prefix + "".join(rng.choice("0123456789") for _ in range(10))
        city = rng.choice(CITIES)
        eta = rng.choice(["今天", "明天", "后天"])
        ask(rng.choice([f"订单{oid}的快递到哪了？", f"帮我查下{oid}的物流", f"我的包裹到哪里了，订单号{oid}"]),
            rng.choice(["我的快递到哪了？", "帮我查一下物流"]))
        obs = {"carrier": carrier, "tracking_no": no, "latest": f"快件已到达【{city}转运中心】", "eta": eta}
        msgs.append({"role": "tool", "name": kind, "parameters": {"order_id": oid}, "observation": obs})
        msgs.append(_assistant(f"您的包裹由{carrier}配送，运单号{no}，最新状态：快件已到达【{city}转运中心】，"
                               f"预计{eta}送达。"))
    elif kind == "apply_return":
        reason = rng.choice(REASONS)
        ask(f"订单{oid}我要退货，原因是{reason}", f"我要退货，{reason}")
        rid = "RT" + "".join(rng.choice("0123456789") for _ in range(8))
        obs = {"success": True, "return_id": rid, "address": "浙江省杭州市余杭区仓前街道小智优选退货仓"}
        msgs.append({"role": "tool", "name": kind, "parameters": {"order_id": oid, "reason": reason},
                     "observation": obs})
        msgs.append(_assistant(f"退货申请已提交，退货单号{rid}。请在7天内把商品寄回：浙江省杭州市余杭区仓前街道"
                               "小智优选退货仓，我们收到后会尽快为您退款。"))
    else:
        title = rng.choice(TITLES)
        email = f"{rng.choice(EMAIL_USERS)}@example.com"
        ask(f"订单{oid}帮我开个发票，抬头{title}，发到{email}",
            f"帮我开个发票，抬头{title}，发到{email}")
        no = "".join(rng.choice("0123456789") for _ in range(8))
        obs = {"success": True, "invoice_no": no, "email": email}
        msgs.append({"role": "tool", "name": kind,
                     "parameters": {"order_id": oid, "title": title, "email": email}, "observation": obs})
        msgs.append(_assistant(f"电子发票已开具，发票号码{no}，已发送到{email}，请注意查收。"))
    return msgs, [TOOLS[kind]]


def make_conversation(rng: random.Random, split: str) -> dict:
    """One customer-service conversation (2-5 user turns)."""
    msgs: list[dict] = []
    tools = None
    if rng.random() < 0.3:
        msgs.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
    if rng.random() < 0.4:
        msgs += [_user(rng.choice(GREETINGS_Q)), _assistant(GREETING_A)]
    style = rng.random()
    if style < 0.3:
        tool_msgs, tools = _tool_dialog(rng)
        msgs += tool_msgs
        if rng.random() < 0.4:
            msgs += _faq_turns(rng, split, 1)
    else:
        if rng.random() < 0.1:
            msgs += [_user(rng.choice(WHO_Q)), _assistant(WHO_A)]
        msgs += _faq_turns(rng, split, rng.choice([1, 1, 2, 2, 3]))
    if rng.random() < 0.5:
        msgs += [_user(rng.choice(THANKS_Q)), _assistant(THANKS_A)]
    return {"conversations": msgs} if tools is None else {"conversations": msgs, "tools": tools}


# ---------------------------------------------------------------------------------------------- AdvertiseGen
ADV_TYPES = {
    "上衣": {"衣样式": ["衬衫", "卫衣", "T恤", "外套", "毛衣"], "衣领型": ["圆领", "翻领", "V领", "立领"],
             "衣袖长": ["长袖", "短袖", "七分袖"]},
    "裙": {"裙型": ["A字裙", "百褶裙", "包臀裙", "连衣裙"], "裙长": ["短裙", "中长裙", "长裙"],
           "裙领型": ["圆领", "V领", "方领"]},
    "裤": {"裤型": ["阔腿裤", "直筒裤", "哈伦裤", "小脚裤"], "裤长": ["九分裤", "长裤", "短裤"],
           "裤腰型": ["高腰", "松紧腰", "中腰"]},
}
MATERIALS = {"牛仔布": "耐磨挺括，越穿越有味道", "棉": "柔软亲肤，透气吸汗", "雪纺": "轻盈飘逸，清爽不闷热",
             "针织": "弹性十足，穿着舒适", "真丝": "光泽细腻，触感顺滑", "羊毛": "保暖厚实，手感软糯",
             "亚麻": "自然透气，带有质朴的肌理"}
COLORS = ["白色", "黑色", "蓝色", "卡其色", "酒红色", "燕麦色", "浅灰色"]
STYLES = {"简约": "简约大方，日常百搭", "文艺": "文艺气息浓郁，温柔又有格调", "街头": "街头感十足，彰显个性",
          "复古": "复古韵味十足，耐看有质感", "通勤": "干练利落，通勤上班也合适", "甜美": "甜美减龄，俏皮可爱",
          "休闲": "休闲随性，轻松自在"}
PATTERNS = {"刺绣": "精致的刺绣点缀其间，细节满满", "条纹": "经典条纹拉长视觉比例", "格子": "格子元素经典耐看",
            "碎花": "浪漫碎花洋溢春日气息", "印花": "个性印花吸睛又时髦", "纯色": "纯色设计干净利落"}
PART_PHRASES = {
    "衣领型": "{}设计修饰脸型和颈部线条", "衣袖长": "{}的袖长实用又好搭", "裙长": "{}的长度行走间灵动自然",
    "裙领型": "{}设计衬托优雅气质", "裤长": "{}的长度显得腿部修长", "裤腰型": "{}设计提升腰线，显高显瘦",
}


def make_advertise(rng: random.Random) -> dict:
    """One ``{"content": "类型#上衣*材质#牛仔布*...", "summary": "..."}`` record."""
    kind = rng.choice(sorted(ADV_TYPES))
    parts = ADV_TYPES[kind]
    shape_key = {"上衣": "衣样式", "裙": "裙型", "裤": "裤型"}[kind]
    shape = rng.choice(parts[shape_key])
    material = rng.choice(sorted(MATERIALS))
    color = rng.choice(COLORS)
    style = rng.choice(sorted(STYLES))
    pattern = rng.choice(sorted(PATTERNS))
    extra_key = rng.choice([k for k in sorted(parts) if k != shape_key])
    extra = rng.choice(parts[extra_key])
    attrs = [("类型", kind), ("材质", material), ("颜色", color), ("风格", style), ("图案", pattern),
             (shape_key, shape), (extra_key, extra)]
    content = "*".join(f"{k}#{v}" for k, v in attrs)
    summary = (f"这款{color}{shape}采用{material}面料，{MATERIALS[material]}。{PART_PHRASES[extra_key].format(extra)}，"
               f"{PATTERNS[pattern]}，整体{STYLES[style]}。")
    return {"content": content, "summary": summary}


# ------------------------------------------------------------------------------------- a reader's small dataset
BANK_TOPICS = ["信用卡", "借记卡", "网上银行", "手机银行", "定期存款", "大额存单", "个人贷款", "外汇兑换", "理财产品",
               "跨行转账"]
BANK_ASPECTS = [
    ("怎么办理{t}？", "办理{t}请带本人身份证到任一网点，或在手机银行首页搜索“{t}”在线申请，约{d}个工作日办好。"),
    ("{t}收费吗？", "{t}的年费和手续费标准是{f}，详见网点公告或客服热线95588。"),
    ("{t}遇到问题找谁？", "{t}的问题请拨打客服热线95588转{k}号键，或到网点找大堂经理。"),
    ("{t}有什么限制？", "{t}每日限额为{m}万元，超过限额请提前一天到网点预约。"),
]


def bank_faq(n: int = 40, seed: int = 0) -> list[dict]:
    """``n`` (<= 40) single-turn bank-FAQ conversations in the official format, every answer different: the kind
    of small file a reader brings to ``train_lora.py --train-file`` (not bundled; ``--faq N`` writes one)."""
    rng = random.Random(seed)
    records = []
    for i, (t, (q, a)) in enumerate([(t, qa) for qa in BANK_ASPECTS for t in BANK_TOPICS][:n]):
        a = a.format(t=t, d=rng.randint(1, 9), f=rng.choice(["免费", "每笔2元", "每年10元", "按金额的千分之一"]),
                     k=rng.randint(1, 9), m=rng.choice([1, 2, 5, 10, 20, 50]))
        records.append({"conversations": [_user(q.format(t=t)), _assistant(a)]})
    return records


# ----------------------------------------------------------------------------------------------------- main
def _write_jsonl(path: Path, records: list[dict]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


@dataclass
class Config:
    out_dir: str = arg(str(DATA_DIR / "ch10"), "folder to write the JSONL files into")
    seed: int = arg(10, "random seed (same seed -> identical files)")
    n_train: int = arg(360, "customer-service training conversations")
    n_dev: int = arg(40, "customer-service dev conversations")
    n_adv_train: int = arg(240, "AdvertiseGen-style training records")
    n_adv_dev: int = arg(24, "AdvertiseGen-style dev records")
    faq: int = arg(0, "instead: write N (<= 40) single-turn bank-FAQ conversations to "
                      "outputs/ch10/faq_N.jsonl — a reader's small dataset for train_lora.py --train-file")


def main(cfg: Config | None = None) -> dict:
    """Write the four JSONL files; returns ``{relative path: {"records", "bytes"}}``."""
    cfg = cfg or Config()
    if cfg.faq:
        from common.paths import output_dir

        path = output_dir("ch10") / f"faq_{cfg.faq}.jsonl"
        records = bank_faq(cfg.faq)
        size = _write_jsonl(path, records)
        print(f"done: {len(records)} FAQ conversations, {size / 1024:.1f} KiB in {path}")
        return {"faq": str(path), "records": len(records)}
    out = Path(cfg.out_dir)
    rng = random.Random(cfg.seed)
    cs_train = [make_conversation(rng, "train") for _ in range(cfg.n_train)]
    cs_dev = [make_conversation(rng, "dev") for _ in range(cfg.n_dev)]
    adv = []
    seen = set()
    while len(adv) < cfg.n_adv_train + cfg.n_adv_dev:   # dev attribute sets never appear in train
        r = make_advertise(rng)
        if r["content"] not in seen:
            seen.add(r["content"])
            adv.append(r)
    files = {"customer_service/train.jsonl": cs_train, "customer_service/dev.jsonl": cs_dev,
             "advertise_gen/train.jsonl": adv[: cfg.n_adv_train],
             "advertise_gen/dev.jsonl": adv[cfg.n_adv_train:]}
    results = {}
    for rel, records in files.items():
        results[rel] = {"records": len(records), "bytes": _write_jsonl(out / rel, records)}
    total = sum(r["bytes"] for r in results.values())
    for rel, r in results.items():
        print(f"{out / rel}: {r['records']} records, {r['bytes'] / 1024:.1f} KiB")
    n_tool = sum("tools" in r for r in cs_train + cs_dev)
    n_sys = sum(r["conversations"][0]["role"] == "system" for r in cs_train + cs_dev)
    print(f"done: {len(cs_train) + len(cs_dev)} conversations ({n_tool} with tool calls, {n_sys} with a system "
          f"message), {len(adv)} ad records, {total / 1024:.0f} KiB in {out}")
    return {"files": results, "total_bytes": total, "tool_conversations": n_tool, "system_conversations": n_sys}


if __name__ == "__main__":
    run(main, Config, __doc__)
