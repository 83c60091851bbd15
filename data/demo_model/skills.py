"""Skill dialogues of the demo model (v3): the jobs chapters 4–13 give a model, in the chapters' own prompts.

Run ``python data/demo_model/skills.py`` to print one generated record of every skill. ``build.py`` (the skills
stage) calls :func:`make_skill_records`; ``evaluate_demo_model.py`` calls :func:`make_skill_cases`.

Five skills, each trained on **the exact prompt a chapter sends** (imported from the chapter, never copied, so a
prompt change in a chapter shows up as a failing demo-model test rather than silent drift):

* ``tool``    — any declared tool: 1–5 made-up tools (names, parameters, descriptions; Chinese and English; string,
  number and enum parameters; required and optional) in the tool system message, serialised the ways real clients
  send them (official order, the ``openai`` SDK's ``type``-first order, LangChain ``bind_tools``' order with
  ``title``/``default`` extras); the question names the tool's topic and the values; the reply is the official call,
  or a plain reply when no tool fits; after the observation, an answer that quotes it. The official
  ``get_weather``/``track`` tools appear in the same client serialisations.
* ``qa``      — grounded answers (``ch06_rag.prompts.qa_prompt``): 1–5 numbered passages + a question → the span
  that answers it + ``[n]``, or ``ch06_rag.prompts.NO_ANSWER`` when no passage does.
* ``json``    — extraction: ``ch04_langchain.prompts.KG_EXTRACT_TEMPLATE`` (head/relation/tail triples) and the
  chapter-7 extraction prompt with LangChain's own ``PydanticOutputParser`` / ``StructuredOutputParser`` format
  instructions (random field sets) → JSON with values copied from the sentence.
* ``math``    — ``ch05_chains.prompts.MATH_PROMPT`` and LangChain's own ``LLMMathChain`` prompt → a ```text block
  with the expression.

Held-out sets ``A`` and ``B`` come from the same generator with disjoint tool topics, parameter names, entity names,
relations, field names and question/sentence templates (every word list is split three ways by a fixed seed;
``tests/test_demo_model_data.py`` checks the split). Recipe decisions are tuned on ``A`` only; ``B`` is reported.
"""
from __future__ import annotations

import functools
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common.cli import arg, run  # noqa: E402

SPLITS = ("train", "A", "B")
SKILLS = ("tool", "qa", "json", "math")


def split3(items, seed: int, held: float = 0.17) -> dict[str, list]:
    """A fixed three-way split of a word list: ``train`` (the rest), ``A`` and ``B`` (``held`` each)."""
    items = list(items)
    rng = random.Random(seed)
    rng.shuffle(items)
    k = max(1, round(len(items) * held))
    return {"A": items[:k], "B": items[k:2 * k], "train": items[2 * k:]}


# ============================================================================================ value makers
_LATIN = "abcdefghijklmnopqrstuvwxyz"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def cjk_name(rng: random.Random, pool: str, lo: int = 2, hi: int = 4) -> str:
    return "".join(rng.choice(pool) for _ in range(rng.randint(lo, hi)))


def code_value(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.4:
        return "".join(rng.choice(_UPPER) for _ in range(rng.randint(1, 3))) + str(rng.randint(100, 99999999))
    if shape < 0.7:
        return str(rng.randint(1000, 999999))
    return rng.choice(_UPPER) + "-" + str(rng.randint(10, 9999))


def latin_word(rng: random.Random) -> str:
    w = "".join(rng.choice(_LATIN) for _ in range(rng.randint(3, 8)))
    return w.capitalize() if rng.random() < 0.5 else w


# ============================================================================================ skill 1: tools
# (name stem, Chinese topic, English topic) — what a tool is about; split three ways
TOPICS = [
    ("flight", "航班", "flight"), ("parcel", "快递", "parcel"), ("train", "火车票", "train ticket"),
    ("hotel", "酒店", "hotel room"), ("movie", "电影", "movie"), ("recipe", "菜谱", "recipe"),
    ("exchange_rate", "汇率", "exchange rate"), ("order", "订单", "order"), ("book", "图书", "book"),
    ("song", "歌曲", "song"), ("bus", "公交", "bus line"), ("metro", "地铁", "metro line"),
    ("air_quality", "空气质量", "air quality"), ("traffic", "路况", "traffic"), ("parking", "停车场", "parking lot"),
    ("hospital", "医院", "hospital"), ("doctor", "医生排班", "doctor schedule"), ("course", "课程", "course"),
    ("exam", "考试成绩", "exam score"), ("library", "图书馆座位", "library seat"), ("restaurant", "餐厅", "restaurant"),
    ("coupon", "优惠券", "coupon"), ("invoice", "发票", "invoice"), ("tax", "个税", "income tax"),
    ("loan", "贷款", "loan"), ("fund", "基金净值", "fund value"), ("gold_price", "金价", "gold price"),
    ("oil_price", "油价", "fuel price"), ("lottery", "彩票", "lottery"), ("match", "比赛比分", "match score"),
    ("team", "球队", "team"), ("player", "球员", "player"), ("dictionary", "词典", "dictionary entry"),
    ("translation", "翻译", "translation"), ("calendar", "日程", "calendar event"), ("meeting_room", "会议室", "meeting room"),
    ("employee", "员工信息", "employee record"), ("salary", "工资条", "payslip"), ("device", "设备状态", "device status"),
    ("printer", "打印机", "printer"), ("server", "服务器负载", "server load"), ("domain", "域名", "domain name"),
    ("ip", "IP地址", "IP address"), ("phone_bill", "话费", "phone bill"), ("electricity", "电费", "electricity bill"),
    ("water_bill", "水费", "water bill"), ("package_tour", "旅游线路", "tour package"), ("visa", "签证", "visa"),
    ("museum", "博物馆门票", "museum ticket"), ("concert", "演唱会", "concert"), ("pet", "宠物医院", "pet clinic"),
    ("car_rental", "租车", "car rental"), ("bike", "共享单车", "shared bike"), ("charging", "充电桩", "charging station"),
    ("insurance", "保单", "insurance policy"), ("warehouse", "库存", "inventory"), ("shipment", "货运", "shipment"),
    ("patent", "专利", "patent"), ("trademark", "商标", "trademark"), ("court", "案件进度", "court case"),
]
# (verb prefix of the name, Chinese verb, English verb)
ACTIONS = [("get", "查询", "Get"), ("query", "查询", "Query"), ("search", "搜索", "Search"), ("check", "检查", "Check"),
           ("lookup", "查找", "Look up"), ("fetch", "获取", "Fetch"), ("find", "查找", "Find")]
# (parameter name, Chinese description, English description, kind)
PARAMS = [
    ("city", "城市名称", "city name", "name"), ("keyword", "关键词", "keyword", "name"),
    ("order_id", "订单号", "order number", "code"), ("tracking_no", "运单号", "tracking number", "code"),
    ("user_id", "用户编号", "user id", "code"), ("date", "日期", "date", "date"),
    ("count", "数量", "number of results", "int"), ("amount", "金额", "amount", "float"),
    ("currency", "币种", "currency", "enum"), ("language", "语言", "language", "enum"),
    ("level", "级别", "level", "enum"), ("product", "商品名称", "product name", "name"),
    ("room_no", "房间号", "room number", "code"), ("account", "账号", "account", "code"),
    ("category", "类别", "category", "enum"), ("size", "尺寸", "size", "enum"), ("region", "地区", "region", "name"),
    ("plate", "车牌号", "licence plate", "code"), ("isbn", "书号", "ISBN", "code"), ("flight_no", "航班号", "flight number", "code"),
    ("station", "车站", "station", "name"), ("title", "标题", "title", "name"), ("author", "作者", "author", "name"),
    ("person", "姓名", "person name", "name"), ("days", "天数", "number of days", "int"),
    ("year", "年份", "year", "int"), ("month", "月份", "month", "int"), ("price", "价格", "price", "float"),
    ("weight", "重量", "weight in kg", "float"), ("distance", "距离", "distance in km", "float"),
    ("page", "页码", "page number", "int"), ("limit", "条数", "maximum rows", "int"),
    ("sort", "排序方式", "sort order", "enum"), ("unit", "单位", "unit", "enum"), ("mode", "模式", "mode", "enum"),
    ("zone", "区域", "zone", "name"), ("brand", "品牌", "brand", "name"), ("model_no", "型号", "model number", "code"),
    ("ticket_no", "票号", "ticket number", "code"), ("case_no", "案号", "case number", "code"),
    ("host", "主机名", "host name", "name"), ("team_name", "队名", "team name", "name"),
]
ENUMS = {"currency": ["人民币", "美元", "欧元", "日元"], "language": ["中文", "英文", "日文", "法文"],
         "level": ["初级", "中级", "高级"], "category": ["电子", "图书", "服装", "食品"], "size": ["小号", "中号", "大号"],
         "sort": ["升序", "降序"], "unit": ["公斤", "克", "斤"], "mode": ["快速", "标准", "精确"]}
ENUMS_EN = {"currency": ["CNY", "USD", "EUR", "JPY"], "language": ["zh", "en", "ja", "fr"],
            "level": ["basic", "medium", "advanced"], "category": ["electronics", "books", "clothes", "food"],
            "size": ["small", "medium", "large"], "sort": ["asc", "desc"], "unit": ["kg", "g", "lb"],
            "mode": ["fast", "standard", "exact"]}
# 结果字段：观测结果里的键
RESULT_KEYS = ["status", "result", "value", "total", "remaining", "updated_at", "location", "price", "score", "name"]

# question frames: {lead}{body}{tail}; split three ways so held-out questions use unseen wordings
LEADS_ZH = ["", "帮我查一下", "请查询", "我想知道", "查查", "看一下", "请帮我看看", "麻烦查查", "能否查询", "给我查",
            "需要查询", "想查一下", "请问", "帮忙看下", "查一查", "请帮忙查询", "可以帮我找下", "我要查", "你能查到", "请获取",
            "帮我找找", "麻烦你看看", "劳驾查询", "想了解", "快帮我查"]
TAILS_ZH = ["", "", "？", "。", "，谢谢", "吗", "呢", "，多谢！", "，尽快", "，急"]
LEADS_EN = ["", "Please look up", "Can you check", "I need", "Find", "Show me", "Tell me", "Get me", "Could you fetch",
            "Help me find", "I'd like", "Look up", "Check", "Please find", "What is"]
TAILS_EN = ["", "?", ".", ", thanks", " please", "!"]
# 参数提示的说法："订单号是X" / "订单号：X" / "订单号为X" / "X"
CUES_ZH = ["{d}是{v}", "{d}：{v}", "{d}为{v}", "{d} {v}", "{d}{v}", "{d}填{v}", "{d}用{v}", "{d}={v}"]
CUES_EN = ["{d} {v}", "{d} is {v}", "{d}: {v}", "{d} = {v}", "with {d} {v}", "{d} set to {v}"]
NO_TOOL_REPLY = "现有的工具都不适合回答这个问题，我无法帮你查询。"
GENERIC_ANSWERS = ["查询结果：{facts}。", "结果如下：{facts}。", "根据返回的结果，{facts}。", "已查到：{facts}。"]
CHATTER = ["你好", "谢谢", "你是谁", "讲个笑话吧", "今天心情不错", "再见", "hello", "你叫什么名字"]


def _tool_pools() -> dict[str, dict[str, list]]:
    return {"topics": split3(TOPICS, 101), "params": split3(PARAMS, 102), "leads_zh": split3(LEADS_ZH, 103),
            "leads_en": split3(LEADS_EN, 104), "cues_zh": split3(CUES_ZH, 105), "cues_en": split3(CUES_EN, 106),
            "answers": split3(GENERIC_ANSWERS, 107)}


def param_value(rng: random.Random, kind: str, pname: str, pool: str, english: bool):
    if kind == "name":
        return latin_word(rng) if english and rng.random() < 0.6 else cjk_name(rng, pool)
    if kind == "code":
        return code_value(rng)
    if kind == "date":
        return f"{rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == "int":
        return rng.randint(1, 2030 if pname == "year" else 500)
    if kind == "float":
        return round(rng.randint(1, 99999) / 10 ** rng.randint(1, 2), 2)
    return rng.choice((ENUMS_EN if english else ENUMS)[pname])


def make_tool(rng: random.Random, topic, params: list, english: bool) -> dict:
    """A made-up tool ``{name, description, parameters, _meta}`` about ``topic`` with 1–3 of ``params``."""
    stem, topic_zh, topic_en = topic
    prefix, verb_zh, verb_en = rng.choice(ACTIONS)
    name = f"{prefix}_{stem}" if rng.random() < 0.7 else f"{stem}_{prefix}"
    chosen = rng.sample(params, rng.choice([1, 1, 2, 2, 3]))
    props, required = {}, []
    for i, (pname, d_zh, d_en, kind) in enumerate(chosen):
        prop: dict = {"type": {"int": "integer", "float": "number"}.get(kind, "string"),
                      "description": d_en if english else d_zh}
        if kind == "enum":
            prop["enum"] = list((ENUMS_EN if english else ENUMS)[pname])
        props[pname] = prop
        if i == 0 or rng.random() < 0.6:
            required.append(pname)
    desc = (f"{verb_en} the {topic_en}" if english else f"{verb_zh}{topic_zh}" + rng.choice(["", "信息", "的详细信息", "状态"]))
    return {"name": name, "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required},
            "_meta": {"topic": topic_en if english else topic_zh, "params": chosen, "english": english}}


def serialise(rng: random.Random, tool: dict, style: str | None = None) -> dict:
    """The same tool as different clients send it (the runtime dumps it with ``indent=4``): ``official`` (the
    official demo's key order), ``openai`` (``type`` first, the ``openai`` SDK docs' habit), ``langchain``
    (``convert_to_openai_tool``: properties, required, type; ``title``/``default`` extras) or ``shuffled``."""
    style = style or rng.choice(["official", "openai", "openai", "langchain", "langchain", "shuffled"])
    params = tool["parameters"]
    props = {}
    for pname, prop in params["properties"].items():
        p = dict(prop)
        if style == "langchain" and rng.random() < 0.3:
            p["title"] = pname.replace("_", " ").title()
        if style in ("langchain", "shuffled") and pname not in params["required"] and rng.random() < 0.5:
            p["default"] = None if p["type"] == "string" else 0
        order = {"official": ["description", "type", "enum"], "openai": ["type", "description", "enum"],
                 "langchain": ["description", "enum", "title", "type", "default"]}.get(style)
        keys = list(p)
        if order:
            keys = [k for k in order if k in p] + [k for k in p if k not in order]
        else:
            rng.shuffle(keys)
        props[pname] = {k: p[k] for k in keys}
    if style == "langchain":
        new_params = {"properties": props, "required": list(params["required"]), "type": "object"}
    elif style == "shuffled":
        items = [("type", "object"), ("properties", props), ("required", list(params["required"]))]
        rng.shuffle(items)
        new_params = dict(items)
    else:
        new_params = {"type": "object", "properties": props, "required": list(params["required"])}
    if style == "openai" and rng.random() < 0.3:
        new_params["additionalProperties"] = False
    out = {"name": tool["name"], "description": tool["description"], "parameters": new_params}
    if style == "shuffled":
        items = list(out.items())
        rng.shuffle(items)
        out = dict(items)
    return out


def official_tool_variants(rng: random.Random, names: list[str]) -> list[dict]:
    """The official example tools as the other clients serialise them (never the official exact text)."""
    from common.prompts import example_tools

    out = []
    for t in example_tools(*names):
        t = dict(t)
        t["parameters"] = json.loads(json.dumps(t["parameters"]))
        for prop in t["parameters"]["properties"].values():
            prop.setdefault("type", "string")
        out.append(serialise(rng, t, rng.choice(["openai", "langchain", "shuffled"])))
    return out


def _tool_question(rng: random.Random, tool: dict, call: dict, pools: dict, split: str) -> str:
    meta = tool["_meta"]
    en = meta["english"]
    lead = rng.choice(pools["leads_en" if en else "leads_zh"][split])
    cues = pools["cues_en" if en else "cues_zh"][split]
    parts = []
    for pname, d_zh, d_en, kind in meta["params"]:
        if pname in call:
            v = call[pname]
            parts.append(str(v) if kind == "enum" and rng.random() < 0.5 else
                         rng.choice(cues).format(d=d_en if en else d_zh, v=v))
    topic = meta["topic"]
    if en:
        body = f"{lead} the {topic}" if lead else f"The {topic}"
        q = body + (", " if rng.random() < 0.5 else " for ") + ", ".join(parts)
        return q + rng.choice(TAILS_EN)
    if len(parts) == 1 and rng.random() < 0.4:
        q = f"{lead}{parts[0]}的{topic}"
    else:
        q = f"{lead}{topic}" + rng.choice(["，", "：", " ", "，其中"]) + "，".join(parts)
    return q + rng.choice(TAILS_ZH)


def tool_record(rng: random.Random, pool: str, split: str, pools: dict | None = None, short: bool = False
                ) -> tuple[dict, dict]:
    """One tool dialogue (official JSONL record) and its evaluation view ``{kind, query, tools, name, parameters,
    observation, must_mention}`` (``name`` None = a plain reply is expected). ``short``: 1-2 declared tools only
    (the first part of the length curriculum)."""
    pools = pools or _tool_pools()
    topics, params = pools["topics"][split], pools["params"][split]
    english = rng.random() < 0.3
    n_tools = rng.choice([1, 2] if short else [1, 2, 2, 3, 3, 4, 5])
    chosen = rng.sample(topics, min(n_tools, len(topics)))
    tools = [make_tool(rng, t, params, english) for t in chosen]
    names = [t["name"] for t in tools]
    if len(set(names)) != len(names):
        return tool_record(rng, pool, split, pools, short)
    use_official = rng.random() < 0.15
    r = rng.random()
    plain = r < 0.15
    if use_official and not plain:
        return official_record(rng, pool, split, tools, pools)
    target = rng.choice(tools)
    declared = [serialise(rng, t) for t in tools]
    if plain:
        # 没有合适的工具：问的是列表里没有的主题，或者闲聊
        others = [t for t in topics if t not in chosen]
        if rng.random() < 0.6 and others:
            ghost = make_tool(rng, rng.choice(others), params, english)
            call = {p[0]: param_value(rng, p[3], p[0], pool, english) for p in ghost["_meta"]["params"]}
            q = _tool_question(rng, ghost, call, pools, split)
        else:
            q = rng.choice(CHATTER)
        conv = [{"role": "system", "content": _tool_system()}, {"role": "user", "content": q},
                {"role": "assistant", "content": NO_TOOL_REPLY}]
        return ({"tools": declared, "conversations": conv},
                {"kind": "no_tool", "query": q, "tools": declared, "name": None, "parameters": None,
                 "reply": NO_TOOL_REPLY})
    call = {}
    for pname, d_zh, d_en, kind in target["_meta"]["params"]:
        if pname in target["parameters"]["required"] or rng.random() < 0.5:
            call[pname] = param_value(rng, kind, pname, pool, english)
    q = _tool_question(rng, target, call, pools, split)
    result = {k: (cjk_name(rng, pool) if rng.random() < 0.5 else rng.randint(1, 9999))
              for k in rng.sample(RESULT_KEYS, rng.randint(1, 3))}
    facts = "，".join(f"{k}为{v}" for k, v in result.items())
    answer = rng.choice(pools["answers"][split]).format(facts=facts)
    short = rng.random() < 0.5
    conv = [{"role": "system", "content": _tool_system()}, {"role": "user", "content": q},
            {"role": "tool", "name": target["name"], "parameters": call,
             "observation": "" if short else json.dumps(result, ensure_ascii=False)}]
    if not short:
        conv.append({"role": "assistant", "content": answer})
    obs = json.dumps(result, ensure_ascii=False)
    return ({"tools": declared, "conversations": conv},
            {"kind": "tool", "query": q, "tools": declared, "name": target["name"], "parameters": call,
             "observation": obs, "must_mention": [str(v) for v in result.values()]})


def official_record(rng: random.Random, pool: str, split: str, extra: list[dict], pools: dict) -> tuple[dict, dict]:
    """A weather/stock question with the official tools in a client serialisation, among made-up tools."""
    from dialogues import WEATHER_HELDOUT, STOCK_HELDOUT, tool_dialogue, train_template
    from slots import random_stock_code

    kind = rng.choice(["weather", "stock"])
    train_cities, held_cities, held_codes = _official_slots()
    if split == "train":
        slot = (rng.choice(train_cities) if rng.random() < 0.3 else cjk_name(rng, pool)) if kind == "weather" \
            else random_stock_code(rng)
        if slot in held_cities or slot in held_codes:
            slot = cjk_name(rng, pool, 3, 5)
        templates = [train_template(rng, kind)]
    else:
        slot = rng.choice(held_cities) if kind == "weather" else rng.choice(held_codes)
        templates = WEATHER_HELDOUT if kind == "weather" else STOCK_HELDOUT
    d = tool_dialogue(rng, kind, slot, templates, short=rng.random() < 0.5)
    names = ["get_weather", "track"] if rng.random() < 0.5 else [d["conversations"][2]["name"]]
    tools = official_tool_variants(rng, names) + [serialise(rng, t) for t in extra[:rng.randint(0, 2)]]
    rng.shuffle(tools)
    call = d["conversations"][2]
    return ({"tools": tools, "conversations": d["conversations"]},
            {"kind": "official", "query": d["conversations"][1]["content"], "tools": tools, "name": call["name"],
             "parameters": call["parameters"]})


@functools.lru_cache(maxsize=1)
def _official_slots() -> tuple[list[str], list[str], list[str]]:
    from slots import heldout_codes, split_cities

    train, held = split_cities()
    return train, held, heldout_codes()


def _tool_system() -> str:
    from common.prompts import TOOL_SYSTEM_PROMPT

    return TOOL_SYSTEM_PROMPT


# =========================================================================================== skill 2: grounded QA
# (attribute, value kind, question forms) — the attribute word appears in the passage and in the question
ATTRIBUTES = [
    ("注册地址", "address"), ("办公地址", "address"), ("成立时间", "date"), ("员工人数", "people"), ("营业收入", "money"),
    ("净利润", "money"), ("法定代表人", "person"), ("董事长", "person"), ("总经理", "person"), ("主营业务", "phrase"),
    ("联系电话", "phone"), ("股票代码", "code"), ("注册资本", "money"), ("研发投入", "money"), ("总资产", "money"),
    ("邮政编码", "zip"), ("董事会秘书", "person"), ("所属行业", "phrase"), ("上市时间", "date"), ("研发人员数量", "people"),
    ("分红方案", "phrase"), ("审计机构", "org"), ("控股股东", "org"), ("经营现金流", "money"), ("会计师事务所", "org"),
]
Q_FORMS = ["{e}的{a}是什么", "{e}的{a}是多少", "{a}是什么", "{e}{a}是多少", "请问{e}的{a}", "{a}是多少",
           "{e}的{a}有多少", "{e}的{a}在哪里", "说一下{e}的{a}", "{e}的{a}是谁", "告诉我{a}", "{e}{a}为多少",
           "查一下{e}的{a}", "资料里{e}的{a}是什么", "{a}具体是多少", "{e}{a}怎么说"]
# 资料里的写法：句子、表格行、"键：值"
FACT_FORMS = ["{e}的{a}为{v}。", "{e}{a}：{v}；", "{a} {v}", "{a}：{v}。", "截至报告期末，{e}{a}为{v}。", "{e}的{a}是{v}，",
              "报告期内，公司{a}为{v}。", "{a}为{v}，", "本公司{a}：{v}。", "{e}披露的{a}为{v}。", "{a}（{e}）：{v}；",
              "经核实，{a}是{v}。"]
SUFFIX_COMPANY = ["股份有限公司", "科技有限公司", "集团", "药业", "银行", "电气", "控股", "新材料"]
PROVINCES = ["浙江省", "江苏省", "广东省", "北京市", "上海市", "四川省", "湖北省", "山东省", "福建省", "河南省"]


def qa_value(rng: random.Random, kind: str, pool: str) -> str:
    if kind == "address":
        return (rng.choice(PROVINCES) + cjk_name(rng, pool, 2, 2) + "市" + cjk_name(rng, pool, 2, 3)
                + rng.choice(["路", "街", "大道"]) + f"{rng.randint(1, 999)}号")
    if kind == "date":
        return f"{rng.randint(1985, 2023)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
    if kind == "people":
        return f"{rng.randint(12, 99999)}人"
    if kind == "money":
        return f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}" + rng.choice(["万元", "亿元", "元"])
    if kind == "person":
        return cjk_name(rng, pool, 2, 3)
    if kind == "phrase":
        return cjk_name(rng, pool, 2, 3) + rng.choice(["的研发与销售", "制造", "服务", "业务", "产品的生产"])
    if kind == "phone":
        return f"0{rng.randint(10, 999)}-{rng.randint(1000000, 99999999)}"
    if kind == "code":
        return f"{rng.randint(0, 699999):06d}"
    if kind == "zip":
        return f"{rng.randint(100000, 899999)}"
    return cjk_name(rng, pool, 2, 4) + rng.choice(["会计师事务所", "集团有限公司", "投资有限公司"])


def _qa_pools() -> dict[str, dict[str, list]]:
    return {"q": split3(Q_FORMS, 201), "facts": split3(FACT_FORMS, 202)}


# 表格行的写法（年报 PDF/alltxt 抽出的文本就是这样：键 | 值）
TABLE_FORMS = ["{a} | {v} ", "{a} | {v} | ", "| {a} | {v} |"]


@functools.lru_cache(maxsize=1)
def report_snippets() -> tuple[str, ...]:
    """Page texts of two bundled annual reports (安靠智电, 邮储银行 — not 海翔药业, the one chapter 6's example
    question asks about), whitespace collapsed: realistic filler for the grounded-QA passages."""
    from ch06_rag.loaders import load_file
    from common.paths import DATA_DIR

    out = []
    for f in sorted((DATA_DIR / "finreports" / "reports").glob("*.txt.gz")):
        if "海翔" in f.name:
            continue
        out += [" ".join(d.page_content.split()) for d in load_file(f)]
    return tuple(t for t in out if len(t) > 200)


def filler_sentence(rng: random.Random, texts: list[str], avoid: str = "") -> str:
    """A piece of unrelated text: a report snippet (two thirds) or a line of the corpus; never one that mentions
    ``avoid`` (the asked attribute)."""
    for _ in range(20):
        if texts and rng.random() < 0.67 and (snips := report_snippets()):
            page = rng.choice(snips)
            start = rng.randrange(0, max(1, len(page) - 40))
            t = page[start:start + rng.randint(20, 150)]
        else:
            t = (rng.choice(texts) if texts else "本段为其他内容")[:rng.randint(10, 40)].replace("\n", "") + "。"
        if not avoid or avoid not in t:
            return t
    return "本段为其他内容。"


def qa_record(rng: random.Random, pool: str, split: str, texts: list[str], pools: dict | None = None,
              short: bool = False) -> tuple[dict, dict]:
    """One grounded-QA dialogue with the chapter-6 prompt and its evaluation view. ``short``: 1-2 passages with at
    most one filler sentence each (≈ 200 tokens instead of 300-1,000; the first part of the length curriculum)."""
    from ch06_rag.prompts import NO_ANSWER, QA_SYSTEM, qa_prompt

    pools = pools or _qa_pools()
    entity = cjk_name(rng, pool, 2, 4) + rng.choice(SUFFIX_COMPANY)
    attrs = rng.sample(ATTRIBUTES, 6)
    asked, others = attrs[0], attrs[1:]
    answerable = rng.random() < 0.7
    n_pass = rng.choice([1, 2] if short else [1, 2, 3, 3, 4, 4, 5])
    passages: list[list[str]] = [[] for _ in range(n_pass)]
    facts = pools["facts"][split] + TABLE_FORMS
    for a, kind in others[:rng.randint(1, 5)]:
        passages[rng.randrange(n_pass)].append(rng.choice(facts).format(e=entity, a=a, v=qa_value(rng, kind, pool)))
    gold_n, value = None, None
    if answerable:
        value = qa_value(rng, asked[1], pool)
        gold_n = rng.randrange(n_pass)
        passages[gold_n].insert(rng.randint(0, len(passages[gold_n])),
                                rng.choice(facts).format(e=entity, a=asked[0], v=value))
    for p in passages:
        for _ in range(rng.randint(0 if p else 1, 1 if short else 3)):
            p.insert(rng.randint(0, len(p)), filler_sentence(rng, texts, avoid=asked[0]))
    texts_out = ["".join(p) for p in passages]
    sources = None
    if rng.random() < 0.5:
        sources = [f"{entity}{rng.choice(['年报', '公告', '简介'])} 第{rng.randint(1, 200)}页" for _ in passages]
    q = rng.choice(pools["q"][split]).format(e=entity, a=asked[0]) + rng.choice(["？", "?", "", "。"])
    prompt = qa_prompt(q, texts_out, sources)
    answer = f"{value}[{gold_n + 1}]" if answerable else NO_ANSWER
    conv = ([{"role": "system", "content": QA_SYSTEM}] if rng.random() < 0.3 else []) + [
        {"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return ({"conversations": conv},
            {"kind": "qa", "prompt": prompt, "system": conv[0]["content"] if len(conv) == 3 else None, "reply": answer,
             "value": value, "cite": None if gold_n is None else gold_n + 1})


# ========================================================================================= skill 3: JSON extraction
# knowledge-graph relations: (relation, sentence forms) — the relation word is in the sentence
RELATIONS = ["发布", "开发", "位于", "创立", "收购", "投资", "属于", "生产", "支持", "使用", "研发", "合作", "管理", "赞助",
             "出版", "采用", "推出", "设计", "运营", "包含", "依赖", "训练", "部署", "领导"]
TRIPLE_FORMS = ["{h}{r}了{t}。", "{h}{r}{t}。", "{t}由{h}{r}。", "{h}在去年{r}了{t}。", "据报道，{h}{r}了{t}。",
                "{h}已经{r}{t}，", "众所周知，{h}{r}{t}。", "{h}于{y}年{r}了{t}。", "{h}正式{r}{t}。", "近日，{h}{r}了{t}，",
                "{h}计划{r}{t}。", "资料显示，{h}{r}{t}。", "{h}曾经{r}过{t}。", "{h}首次{r}{t}。", "今年{h}{r}了{t}。",
                "{h}宣布{r}{t}。", "{h}一直{r}{t}，", "{h}于{y}年{r}{t}，"]
# field extraction: (field name, Chinese description, kind)
FIELDS = [("name", "人名", "person"), ("city", "城市", "place"), ("year", "年份", "year"), ("company", "公司名称", "org"),
          ("product", "产品名称", "thing"), ("price", "价格（元）", "int"), ("date", "日期", "date"),
          ("school", "学校", "org"), ("country", "国家", "place"), ("age", "年龄", "int"), ("title", "职位", "thing"),
          ("team", "团队", "org"), ("count", "数量", "int"), ("brand", "品牌", "thing"), ("author", "作者", "person"),
          ("book", "书名", "thing"), ("color", "颜色", "thing"), ("month", "月份", "int"), ("hospital", "医院", "org"),
          ("language", "语言", "thing"), ("score", "分数", "int"), ("venue", "地点", "place")]
FIELD_FORMS = ["{v}", "在{v}", "{v}的", "于{v}", "是{v}", "为{v}", "叫{v}", "来自{v}", "有{v}", "到了{v}", "和{v}",
               "名为{v}", "选了{v}", "去{v}", "属于{v}", "提到{v}", "写着{v}", "就是{v}"]
SENT_JOIN_FORMS = ["，", "；", "，并且", "。", "，后来", "，同时", "、", "，其中", "；另外", "，然后", "。此外，", "，还有"]


def _json_pools() -> dict[str, dict[str, list]]:
    # 关系和字段名各集合共用（任务是“没见过的句子”）；句式按三份切开
    return {"triple": split3(TRIPLE_FORMS, 302), "forms": split3(FIELD_FORMS, 304), "joins": split3(SENT_JOIN_FORMS, 305)}


def field_value(rng: random.Random, kind: str, pool: str):
    if kind in ("person", "place", "thing"):
        return cjk_name(rng, pool, 2, 3) if rng.random() < 0.85 else latin_word(rng)
    if kind == "org":
        return cjk_name(rng, pool, 2, 3) + rng.choice(["公司", "大学", "研究院", "集团", "中心"])
    if kind == "year":
        return rng.randint(1950, 2030)
    if kind == "date":
        return f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
    return rng.randint(1, 999)


def json_record(rng: random.Random, pool: str, split: str, pools: dict | None = None) -> tuple[dict, dict]:
    """One extraction dialogue: chapter-4 triples or chapter-7 fields (LangChain's own format instructions)."""
    pools = pools or _json_pools()
    if rng.random() < 0.5:
        from ch04_langchain.prompts import KG_EXTRACT_TEMPLATE, KG_SYSTEM

        triples, sents = [], []
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            h, t = field_value(rng, "person" if rng.random() < 0.3 else "org", pool), field_value(rng, "thing", pool)
            r = rng.choice(RELATIONS)
            sents.append(rng.choice(pools["triple"][split]).format(h=h, r=r, t=t, y=rng.randint(1990, 2024)))
            triples.append({"head": h, "relation": r, "tail": t})
        paragraph = "".join(sents)
        prompt = KG_EXTRACT_TEMPLATE.format(paragraph=paragraph)
        answer = json.dumps(triples, ensure_ascii=False)
        conv = [{"role": "system", "content": KG_SYSTEM}, {"role": "user", "content": prompt},
                {"role": "assistant", "content": answer}]
        return {"conversations": conv}, {"kind": "triples", "system": KG_SYSTEM, "prompt": prompt, "gold": triples,
                                         "reply": answer}
    fields = rng.sample(FIELDS, rng.choice([2, 3, 3, 4]))
    values = {f: field_value(rng, kind, pool) for f, _, kind in fields}
    bits = [rng.choice(pools["forms"][split]).format(v=values[f]) for f, _, _ in fields]
    text = ""
    for i, b in enumerate(bits):
        text += b + (rng.choice(pools["joins"][split]) if i < len(bits) - 1 else "。")
    structured = rng.random() < 0.4
    prompt = extraction_prompt_text(fields, text, structured)
    obj = {f: values[f] for f, _, _ in fields}
    body = json.dumps(obj, ensure_ascii=False)
    answer = f"```json\n{body}\n```" if structured else body
    conv = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return {"conversations": conv}, {"kind": "fields", "system": None, "prompt": prompt, "gold": obj, "reply": answer,
                                     "structured": structured}


def extraction_prompt_text(fields: list[tuple], text: str, structured: bool) -> str:
    """The chapter-7 field-extraction prompt for any field set, with the format instructions LangChain's own
    ``StructuredOutputParser`` / ``PydanticOutputParser`` write for it."""
    from ch07_prompt.prompts import EXTRACT_FIELDS_PROMPT

    kinds = {f: kind for f, _, kind in fields}
    if structured:
        from langchain_classic.output_parsers import ResponseSchema, StructuredOutputParser

        parser = StructuredOutputParser.from_response_schemas(
            [ResponseSchema(name=f, description=d, type="integer" if kinds[f] in ("int", "year") else "string")
             for f, d, _ in fields])
    else:
        from langchain_core.output_parsers import PydanticOutputParser
        from pydantic import Field, create_model

        model = create_model("Record", **{f: (int if kinds[f] in ("int", "year") else str, Field(description=d))
                                          for f, d, _ in fields})
        parser = PydanticOutputParser(pydantic_object=model)
    names = "、".join(d.split("（")[0] for _, d, _ in fields)
    return EXTRACT_FIELDS_PROMPT.format(fields=names, format_instructions=parser.get_format_instructions(), text=text)


# ============================================================================================= skill 4: math
# A question = a frame (how it is asked) around an operation phrase (what is computed). The operation phrases are
# shared by every split — a model cannot guess an operator word it never saw — while the frames and the word
# problems are split three ways, so held-out questions are worded in ways training never used.
MATH_OPS_ZH = [("{a}乘以{b}", "{a} * {b}"), ("{a}加{b}", "{a} + {b}"), ("{a}减去{b}", "{a} - {b}"),
               ("{a}除以{b}", "{a} / {b}"), ("{a}的{b}次方", "{a}**{b}"), ("{a}的平方根", "sqrt({a})"),
               ("{a}乘{b}", "{a} * {b}"), ("{a}加上{b}", "{a} + {b}"), ("{a}减{b}", "{a} - {b}"),
               ("{a}与{b}的和", "{a} + {b}"), ("{a}与{b}的差", "{a} - {b}"), ("{a}和{b}的积", "{a} * {b}"),
               ("{a}加{b}再乘以{c}", "({a} + {b}) * {c}"), ("{a}乘以{b}再加{c}", "{a} * {b} + {c}"),
               ("{a}减去{b}后除以{c}", "({a} - {b}) / {c}"), ("{a}的{b}%", "{a} * {b} / 100")]
MATH_OPS_EN = [("{a} times {b}", "{a} * {b}"), ("{a} plus {b}", "{a} + {b}"), ("{a} minus {b}", "{a} - {b}"),
               ("{a} divided by {b}", "{a} / {b}"), ("{a} to the power of {b}", "{a}**{b}"),
               ("the square root of {a}", "sqrt({a})"), ("{a} multiplied by {b}", "{a} * {b}"),
               ("{a} plus {b} times {c}", "{a} + {b} * {c}")]
MATH_FRAMES_ZH = ["{op}等于多少", "{op}是多少", "计算{op}", "算一下{op}", "{op}得多少", "请问{op}的结果", "{op}等于几",
                  "帮我算算{op}", "{op}的值是多少", "求{op}", "{op}=?", "{op}结果是多少", "你知道{op}是多少吗",
                  "口算：{op}", "{op}，答案是多少", "问：{op}"]
MATH_FRAMES_EN = ["What is {op}", "Compute {op}", "Calculate {op}", "How much is {op}", "Tell me {op}",
                  "Work out {op}", "Please evaluate {op}", "Find {op}", "What do you get for {op}", "Quick: {op}"]
MATH_STORIES = [
    ("一台电脑{a}元，分{b}期免息，每期多少钱", "{a} / {b}"), ("每本书{a}元，买{b}本一共多少钱", "{a} * {b}"),
    ("小明有{a}个苹果，吃了{b}个，还剩几个", "{a} - {b}"), ("仓库有{a}箱货，又运来{b}箱，现在有多少箱", "{a} + {b}"),
    ("{a}个人平分{b}元，每人多少元", "{b} / {a}"), ("一辆车每小时行驶{a}公里，{b}小时行驶多少公里", "{a} * {b}"),
    ("工资{a}元，花了{b}元，还剩多少", "{a} - {b}"), ("长{a}米宽{b}米的长方形面积是多少", "{a} * {b}"),
    ("一年存{a}元，存{b}年一共多少", "{a} * {b}"), ("{a}元打{b}折是多少钱", "{a} * {b} / 10"),
    ("{a} apples cost {b} dollars each. What is the total", "{a} * {b}"),
    ("Split {a} dollars among {b} people. How much each", "{a} / {b}"),
    ("A tank holds {a} litres and {b} litres leak out. How much is left", "{a} - {b}"),
    ("班里有{a}名男生和{b}名女生，一共多少人", "{a} + {b}"), ("一箱有{a}瓶，{b}箱有多少瓶", "{a} * {b}"),
    ("{a}页的书每天读{b}页，要读几天", "{a} / {b}"),
]
MATH_TAILS = ["？", "?", "", "。", "？请计算。"]


def _math_pools() -> dict[str, dict[str, list]]:
    return {"frames_zh": split3(MATH_FRAMES_ZH, 401), "frames_en": split3(MATH_FRAMES_EN, 402),
            "stories": split3(MATH_STORIES, 403)}


def math_form(rng: random.Random, split: str, pools: dict) -> tuple[str, str]:
    """``(question template, expression template)``: an operation in a frame (80 %) or a word problem."""
    if rng.random() < 0.2:
        return rng.choice(pools["stories"][split])
    if rng.random() < 0.3:
        op, expr = rng.choice(MATH_OPS_EN)
        return rng.choice(pools["frames_en"][split]).replace("{op}", op), expr
    op, expr = rng.choice(MATH_OPS_ZH)
    return rng.choice(pools["frames_zh"][split]).replace("{op}", op), expr


def math_prompt_text(question: str, langchain_default: bool) -> str:
    """The chapter-5 math prompt, or LangChain's own ``LLMMathChain`` prompt, filled with ``question``."""
    if langchain_default:
        from langchain_classic.chains.llm_math.prompt import PROMPT

        return PROMPT.format(question=question)
    from ch05_chains.prompts import MATH_PROMPT
    from langchain_core.prompts import PromptTemplate

    return PromptTemplate.from_template(MATH_PROMPT).format(question=question)


def math_record(rng: random.Random, split: str, pools: dict | None = None) -> tuple[dict, dict]:
    pools = pools or _math_pools()
    form, expr = math_form(rng, split, pools)
    nums = {k: rng.choice([rng.randint(2, 99), rng.randint(100, 99999)]) for k in "abc"}
    if "次方" in form or "power" in form:
        nums["b"] = rng.randint(2, 5)
    if "折" in form:
        nums["b"] = rng.randint(5, 9)
    if "%" in form:
        nums["b"] = rng.randint(1, 99)
    question = form.format(**nums) + rng.choice(MATH_TAILS)
    expression = expr.format(**nums)
    prompt = math_prompt_text(question, rng.random() < 0.3)
    answer = f"```text\n{expression}\n```"
    conv = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return {"conversations": conv}, {"kind": "math", "prompt": prompt, "question": question, "expression": expression,
                                     "reply": answer}


# ============================================================================================ prompt fingerprint
def training_prompts() -> dict[str, str]:
    """Every chapter prompt the skills are trained on, by name (the build stores their SHA-256 next to the model;
    a test compares them with the chapters' current text, so an edited prompt cannot drift away silently)."""
    from langchain_classic.chains.llm_math.prompt import PROMPT as LC_MATH

    from ch04_langchain.prompts import KG_EXTRACT_TEMPLATE, KG_SYSTEM
    from ch05_chains.prompts import MATH_PROMPT
    from ch06_rag.prompts import NO_ANSWER, QA_PROMPT, QA_SYSTEM
    from ch07_prompt.prompts import EXTRACT_FIELDS_PROMPT
    from common.prompts import TOOL_SYSTEM_PROMPT

    return {"common.prompts.TOOL_SYSTEM_PROMPT": TOOL_SYSTEM_PROMPT, "ch06_rag.prompts.QA_PROMPT": QA_PROMPT,
            "ch06_rag.prompts.QA_SYSTEM": QA_SYSTEM, "ch06_rag.prompts.NO_ANSWER": NO_ANSWER,
            "ch04_langchain.prompts.KG_SYSTEM": KG_SYSTEM,
            "ch04_langchain.prompts.KG_EXTRACT_TEMPLATE": KG_EXTRACT_TEMPLATE,
            "ch05_chains.prompts.MATH_PROMPT": MATH_PROMPT,
            "langchain_classic LLMMathChain PROMPT": LC_MATH.template,
            "ch07_prompt.prompts.EXTRACT_FIELDS_PROMPT": EXTRACT_FIELDS_PROMPT}


def prompt_fingerprints() -> dict[str, str]:
    import hashlib

    return {k: hashlib.sha256(v.encode("utf-8")).hexdigest() for k, v in training_prompts().items()}


PROMPTS_FILE = "training_prompts.json"


# ============================================================================================== records and cases
def make_skill_records(n: int, seed: int, char_pool: str, texts: list[str] | None = None,
                       shares: dict[str, float] | None = None, short: bool = False) -> list[dict]:
    """``n`` training dialogues of the four skills (official JSONL records), deterministic in ``seed``. ``short``:
    the short-prompt forms of the tool and QA dialogues (the first part of the length curriculum)."""
    shares = shares or {"tool": 0.4, "qa": 0.25, "json": 0.2, "math": 0.15}
    rng = random.Random(seed)
    pools = {"tool": _tool_pools(), "qa": _qa_pools(), "json": _json_pools(), "math": _math_pools()}
    kinds, weights = zip(*shares.items())
    out = []
    for _ in range(n):
        kind = rng.choices(kinds, weights)[0]
        out.append(_one(rng, kind, char_pool, "train", texts or [], pools, short)[0])
    return out


def _one(rng, kind, pool, split, texts, pools, short: bool = False):
    if kind == "tool":
        return tool_record(rng, pool, split, pools["tool"], short)
    if kind == "qa":
        return qa_record(rng, pool, split, texts, pools["qa"], short)
    if kind == "json":
        return json_record(rng, pool, split, pools["json"])
    return math_record(rng, split, pools["math"])


def make_skill_cases(split: str, char_pool: str, texts: list[str] | None = None, n: int = 60,
                     seed: int | None = None) -> dict[str, list[dict]]:
    """Held-out cases of one split (``A`` or ``B``): ``n`` per skill (tool cases: made-up tools, official tools in
    client serialisations and no-tool questions)."""
    assert split in ("A", "B"), split
    rng = random.Random(seed if seed is not None else {"A": 5001, "B": 5002}[split])
    pools = {"tool": _tool_pools(), "qa": _qa_pools(), "json": _json_pools(), "math": _math_pools()}
    out: dict[str, list[dict]] = {k: [] for k in SKILLS}
    while len(out["tool"]) < 3 * n:
        out["tool"].append(_one(rng, "tool", char_pool, split, texts or [], pools)[1])
    for k in ("qa", "json", "math"):
        out[k] = [_one(rng, k, char_pool, split, texts or [], pools)[1] for _ in range(n)]
    return out


@dataclass
class Config:
    split: str = arg("train", "which split to draw from", choices=list(SPLITS))
    seed: int = arg(0, "random seed")
    chars: int = arg(1500, "print at most this many characters of each record")


def main(cfg: Config | None = None) -> dict:
    """Print one generated record of every skill; return them."""
    cfg = cfg or Config()
    rng = random.Random(cfg.seed)
    pools = {"tool": _tool_pools(), "qa": _qa_pools(), "json": _json_pools(), "math": _math_pools()}
    out = {}
    for kind in SKILLS:
        rec, _ = _one(rng, kind, "天地人和春秋山水风云花月", cfg.split, ["床前明月光疑是地上霜"], pools)
        out[kind] = rec
        print(f"--- {kind}\n{json.dumps(rec, ensure_ascii=False, indent=1)[:cfg.chars]}")
    return out


if __name__ == "__main__":
    run(main, Config, __doc__)
