"""SFT dialogues for the built-in demo model, in the official ChatGLM3 fine-tuning JSONL format.

Run ``python data/demo_model/dialogues.py`` to print a few generated records; ``build.py`` calls
:func:`make_sft_records` and :func:`make_eval_cases`. Three kinds of dialogue:

* FAQ: greetings and short questions about the book and this repository (answers written by hand below);
* tool calls: a system message with the official tool prompt and one or both example tools (either order),
  a weather or stock question, the call as a ``{"role": "tool", ...}`` item with its observation, then an answer
  that quotes the result;
* plain questions asked while tools are present (the model must not call a tool for "你好").

Training and evaluation use disjoint question templates, disjoint real city names and disjoint stock codes.
"""
from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from common.cli import arg  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common.prompts import TOOL_SYSTEM_PROMPT, example_tools  # noqa: E402
from slots import (CHINA_CITIES, LATIN_CITIES, KNOWN_TICKERS, SUFFIXES, WORLD_CITIES, heldout_codes,  # noqa: E402
                   heldout_values, random_name, random_stock_code, split_cities, stock_result, weather_result)

# ---------------------------------------------------------------------------------------------------------
# 问句模板：{x} 是槽位。评测模板（*_HELDOUT）是手写的固定问法；训练问法由下面的词组组合生成（上万种，槽位
# 在句首、句中、句尾都有），并去掉与评测问法相同或含评测专用短语的组合——评测问的是没见过的说法。
WEATHER_HELDOUT = [
    "{x}今天会不会下雨", "麻烦查一下{x}今天的天气", "{x}的天气状况怎么样", "想了解一下{x}现在的天气",
    "能告诉我{x}的温度吗", "How is the weather in {x}", "我下午到{x}，天气如何", "{x}这两天天气好不好",
]
STOCK_HELDOUT = [
    "麻烦看看{x}这只股票的价格", "{x}目前股价多少", "能帮我查查{x}的实时行情吗", "How much is {x} trading at",
    "我持有{x}，现在价格如何", "实时追踪{x}的价格",
]
# 只在评测问法里出现的短语：训练组合一旦含有它们就丢掉
HELDOUT_PHRASES = ("会不会下雨", "麻烦查一下", "状况", "想了解", "能告诉我", "How is the weather", "下午到", "这两天",
                   "麻烦看看", "目前", "能帮我", "How much", "trading", "持有", "实时追踪")

_W_HEADS = ["", "查一下", "帮我查查", "查查", "查", "我想知道", "告诉我", "请告诉我", "看看", "帮我看下", "请查询",
            "查询", "帮我查询", "我在", "我现在在", "明天去", "下周要去", "周末想去", "我人在", "刚到", "准备去",
            "出差到", "飞到", "回到", "请帮我获取", "获取", "朋友在", "我要去", "老家在", "请问城市", "晚上到",
            "中午到", "明早到", "周末到", "今晚飞", "我住在", "我们在"]
_W_MIDS = ["", "", "的", "今天", "今天的", "现在", "现在的", "明天", "明天的", "这会儿", "最近", "这几天",
           "，", "，今天", "那边", "那边的", "当地", "当地的", "市区"]
_W_TAILS = ["天气", "天气怎么样", "天气如何", "天气好吗", "下雨吗", "下雪了吗", "刮风吗", "冷不冷", "热吗", "热不热",
            "气温多少度", "温度多少", "多少度", "天气预报", "要带伞吗", "适合出门吗", "是晴天还是下雨", "湿度多少",
            "天气咋样", "天儿怎么样", "的实时天气", "天气情况", "气温和湿度是多少", "有雾吗", "冷吗", "晴天吗"]
_W_FIXED = [  # 手写的自然问法
    "{x}今天天气怎么样", "{x}的天气如何", "查一下{x}的天气", "帮我查询{x}现在的天气情况", "我想知道{x}的天气",
    "{x}现在下雨吗", "明天去{x}出差，那边天气怎么样", "{x}气温多少度", "{x}冷不冷", "{x}热吗",
    "告诉我{x}的天气", "{x}天气", "看看{x}的天气预报", "{x}现在是晴天还是下雨", "{x}这会儿温度多少",
    "我在{x}，今天要带伞吗", "周末想去{x}玩，天气如何", "请查询城市{x}的天气", "{x}的气温和湿度是多少", "{x}刮风吗",
    "帮我看下{x}天气", "{x}那边天气咋样", "查{x}天气", "{x}最近天气怎么样", "获取{x}的当前天气",
    "我要去{x}旅游，查一下当地天气", "{x}今天适合出门吗，天气怎么样", "请帮我获取{x}的实时天气", "{x}下雪了吗",
    "朋友在{x}，那里天气好不好",
    "天气 {x}", "{x}，天气", "今天{x}天气好吗", "现在{x}多少度", "天气：{x}", "城市是{x}，查天气",
    "查天气：{x}", "帮我看看天气，城市{x}", "{x}？天气怎么样", "weather in {x}", "What's the weather like in {x}",
    "{x} weather", "weather {x} today", "Is it raining in {x}", "Tell me the weather in {x}",
    "Check the weather of {x} please", "Will it rain in {x} tomorrow", "Temperature in {x} now",
    "Do I need an umbrella in {x}", "What is the temperature in {x}", "forecast for {x}",
    "Is it cold in {x} today", "{x} temperature", "weather report for {x}", "Any rain in {x}",
]
_S_HEADS = ["", "查一下", "帮我查查", "查查", "查", "查询", "请查询", "看看", "帮我看看", "追踪", "追踪一下", "帮我追踪",
            "盯一下", "帮我盯一下", "关注一下", "股票", "股票代码", "代码", "我买了", "我关注的", "请查询股票",
            "查查股票", "获取", "请帮我获取", "告诉我", "我想知道", "看下", "我手里有", "我刚买了", "我卖了",
            "我的仓位里有", "帮我关注"]
_S_MIDS = ["", "", "的", "现在的", "今天的", "最新的", "这只股票的", "的实时", "，", "今天", "现在", "股票的", "最近"]
_S_TAILS = ["价格", "股价", "股价是多少", "现在多少钱", "行情", "报价", "涨了吗", "跌了没有", "价格多少", "最新价",
            "收盘价", "走势如何", "什么价位", "多少钱一股", "的股价", "行情如何", "价格是多少", "实时价格", "涨跌幅"]
_S_FIXED = [
    "帮我查询股票{x}的价格", "{x}的股价是多少", "查一下{x}现在的股价", "股票{x}现在多少钱", "{x}今天涨了吗",
    "追踪一下{x}的实时价格", "我想知道{x}的最新股价", "{x}股价", "看看{x}的行情", "{x}现在什么价位",
    "请帮我追踪股票代码{x}", "{x}最新价格多少", "帮我盯一下{x}", "查{x}股票", "{x}跌了没有",
    "{x}这只股票现在怎么样", "获取{x}的实时股价", "请查询{x}的当前价格", "{x}的行情如何", "今天{x}收在多少",
    "price of {x}", "track {x}", "What's the price of {x}", "{x} stock price", "Show me the {x} quote",
            "Check {x} for me", "Is {x} up today", "Get the latest price of {x} please", "How is {x} doing today",
            "{x} price now", "quote {x}", "Track the stock {x}", "What does {x} cost now",
            "股票代码是{x}，帮我查下价格", "代码{x}，查价格", "{x}？现在什么价", "股价：{x}", "追踪股票：{x}",
            "How high is {x} now", "How's {x} today", "How about {x} stock", "Where is {x} priced now"]


def _compose(heads: list[str], mids: list[str], tails: list[str], fixed: list[str]) -> list[str]:
    """Every head + {x} + mid + tail combination that reads well, plus the fixed phrasings; held-out ones removed."""
    out = set(fixed)
    for h in heads:
        for m in mids:
            for t in tails:
                if (m.endswith("的") and t.startswith("的")) or (m.startswith("，") and not h and t == "天气"):
                    continue
                out.add(h + "{x}" + m + t)
    held = set(WEATHER_HELDOUT + STOCK_HELDOUT)
    return sorted(t for t in out if t not in held and not any(p in t for p in HELDOUT_PHRASES))


# 句首的客气话 / 情态词 × 动作：「可以帮我查查」「能不能看看」「劳驾说一下」…… 让模型学会句首这些没见过的
# 组合不是地名（组合含评测短语的会被 _compose 去掉）
_POLITE = ["", "请", "麻烦", "劳驾", "请你", "你", "您"]
_MODAL = ["", "可以", "能否", "能不能", "可不可以", "帮忙", "想请你"]
_ACTS = {"weather": ["告诉我", "查查", "查一下", "看看", "帮我查", "帮我看看", "说说", "报一下", "播报一下"],
         "stock": ["告诉我", "查查", "查一下", "看看", "帮我查", "帮我看看", "说说", "报一下", "盯一下"]}


def _lead_ins(kind: str) -> list[str]:
    """Politeness × modal × action heads (about 400 per kind), in a fixed order."""
    return sorted({p + m + a for p in _POLITE for m in _MODAL for a in _ACTS[kind]
                   if (p or m) and not (p and m == "想请你")})


_W_BASE = _compose(_W_HEADS, _W_MIDS, _W_TAILS, _W_FIXED)
_S_BASE = _compose(_S_HEADS, _S_MIDS, _S_TAILS, _S_FIXED)
_W_LEAD = _compose(_lead_ins("weather"), _W_MIDS, _W_TAILS, [])
_S_LEAD = _compose(_lead_ins("stock"), _S_MIDS, _S_TAILS, [])
WEATHER_TRAIN = sorted(set(_W_BASE + _W_LEAD))
STOCK_TRAIN = sorted(set(_S_BASE + _S_LEAD))
WEATHER_TRAIN_FIXED = _compose([], [], [], _W_FIXED)
STOCK_TRAIN_FIXED = _compose([], [], [], _S_FIXED)


# 以代码开头、紧接着一个汉字的股票问法（code_first_template 在代码后插入随机字）
_STOCK_CODE_FIRST = [t for t in _S_BASE if t.startswith("{x}") and "\u4e00" <= t[len("{x}"):][:1] <= "\u9fff"]


def train_template(rng: random.Random, kind: str, fixed_share: float = 0.4, lead_share: float = 0.2) -> str:
    """A training question template: ``fixed_share`` from the hand-written list (natural wordings, English),
    ``lead_share`` with a politeness/modal lead-in head, otherwise one of the other generated combinations."""
    fixed, lead, base = ((WEATHER_TRAIN_FIXED, _W_LEAD, _W_BASE) if kind == "weather"
                         else (STOCK_TRAIN_FIXED, _S_LEAD, _S_BASE))
    r = rng.random()
    return rng.choice(fixed if r < fixed_share else lead if r < fixed_share + lead_share else base)


PREFIXES = ["", "", "", "", "请问", "你好，", "您好，", "帮个忙，", "喂，", "嗨，", "麻烦你，", "问一下，"]
SUFFIXES_Q = ["", "", "？", "？", "?", "。", "！", "呢", "呢？", "，谢谢", "，谢谢！"]

WEATHER_ANSWERS = [
    "{city}现在{desc}，气温{temp}℃{hum_part}。",
    "根据查询结果，{city}当前天气{desc}，温度{temp}℃{hum_part}。",
    "{city}的天气：{desc}，{temp}℃{hum_part}。",
]
STOCK_ANSWERS = [
    "根据API调用结果，股票{symbol}当前的价格为{price}{change_part}。",
    "{symbol}的最新价格是{price}{change_part}。",
    "查询到{symbol}现在的股价为{price}{change_part}。",
]

# ---------------------------------------------------------------------------------------------------------
# 常见问题（书与仓库）。每项：训练问法、评测问法（不参与训练）、答案。
CHAPTERS = [
    ("1", "大模型时代的开端", "介绍大模型的历史、特点，以及为什么选择ChatGLM"),
    ("2", "PyTorch 2.0深度学习环境搭建", "安装Python和PyTorch，并运行第一个Hello ChatGLM3程序"),
    ("3", "基于gradio的云上自托管ChatGLM3部署实战", "用gradio做网页界面，用FastAPI搭建OpenAI兼容的服务接口"),
    ("4", "使用ChatGLM3与LangChain实现知识图谱抽取和智能问答", "把ChatGLM3接入LangChain，做专业问答和知识图谱抽取"),
    ("5", "适配ChatGLM3终端的Template与Chain详解", "讲解提示模板、顺序链和记忆功能"),
    ("6", "ChatGLM3多文本检索的增强生成实战", "用BM25和文本分块做检索增强生成"),
    ("7", "构建以人为本的ChatGLM3规范化Prompt提示工程", "讲解提示模板的输入输出格式和网页搜索问答"),
    ("8", "使用ChatGLM3的思维链构建", "讲解思维链提示及其实战"),
    ("9", "GLM源码分析与文本生成实战", "从零实现GLM：旋转位置编码、GLU激活和三角掩码，并训练文本生成"),
    ("10", "低资源单GPU微调ChatGLM3实战", "用LoRA、QLoRA和PEFT微调ChatGLM3，做多轮客服问答"),
    ("11", "会使用工具的ChatGLM3", "讲解工具注册与工具调用，做一个美妆助手"),
    ("12", "上市公司财务报表非结构化信息抽取实战", "用ChatGLM3-6B-32K从年报中抽取结构化信息"),
    ("13", "上市公司财务报表智能问答与财务预警实战", "建立财务字段数据库，用自然语言做智能问答与预警"),
]
CN_NUM = {"1": "一", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六", "7": "七", "8": "八", "9": "九",
          "10": "十", "11": "十一", "12": "十二", "13": "十三"}
CHAPTER_Q_TRAIN = ["第{n}章讲什么", "第{n}章讲了什么内容", "第{n}章是关于什么的", "介绍一下第{n}章", "第{c}章讲什么",
                   "第{n}章的代码做什么", "书的第{n}章是什么", "chapter {n} 讲什么"]
CHAPTER_Q_HELDOUT = ["第{n}章主要内容是什么", "能说说第{c}章吗"]

FAQ = [
    (["你好", "您好", "hi", "hello", "嗨", "你好呀", "早上好"], ["你好啊", "Hello"],
     "你好！我是ChatGLM3演示模型，可以回答关于本书和本仓库的问题，也会调用天气和股票工具。"),
    (["你是谁", "介绍一下你自己", "你叫什么名字", "你是什么模型"], ["请做个自我介绍", "你是哪个模型"],
     "我是本仓库内置的ChatGLM3演示模型：结构与ChatGLM3-6B相同，但只有几百万参数，在CPU上几分钟就能训练好。"),
    (["你能做什么", "你会什么", "你有什么功能"], ["你都能干些什么"],
     "我能打招呼、回答关于本书和本仓库的简单问题，并按官方格式调用get_weather和track两个示例工具。"),
    (["这本书讲什么", "这本书是关于什么的", "介绍一下这本书", "书名是什么"], ["这本书主要讲了什么"],
     "《ChatGLM3大模型本地化部署、应用开发与微调》讲ChatGLM3的本地部署、LangChain应用开发、工具调用和微调。"),
    (["这个仓库是做什么的", "这个项目是什么", "仓库有什么用"], ["这个代码仓库是干什么的"],
     "这是本书的配套代码仓库：每章一个文件夹，脚本默认在内置演示模型上运行，换成真实权重无需改代码。"),
    (["怎么使用真实的ChatGLM3权重", "如何换成真正的ChatGLM3-6B", "怎样加载真实模型", "怎么用自己下载的模型"],
     ["如何切换到真实的模型权重", "想用真正的6B模型怎么办"],
     "给脚本加参数 --model 模型目录，或设置环境变量 CHATGLM3_MODEL=模型目录；本地文件夹、Hugging Face或ModelScope缓存都可以。"),
    (["模型权重从哪里下载", "去哪里下载ChatGLM3", "在哪下载chatglm3-6b"], ["ChatGLM3-6B的权重在哪获取"],
     "可以从Hugging Face的THUDM/chatglm3-6b或ModelScope的ZhipuAI/chatglm3-6b下载，然后用 --model 指向下载目录。"),
    (["CHATGLM3_MODEL是什么", "环境变量CHATGLM3_MODEL有什么用"], ["CHATGLM3_MODEL这个变量怎么用"],
     "CHATGLM3_MODEL 指定所有脚本默认使用的模型目录或模型名；命令行的 --model 优先于它。"),
    (["没有显卡能运行吗", "没有GPU怎么办", "CPU能跑吗"], ["笔记本没有GPU可以用吗"],
     "可以。默认的演示模型在CPU上就能运行；真实的ChatGLM3-6B在CPU上需要约32GB内存，或者用量化版本。"),
    (["怎么运行测试", "如何运行测试"], ["测试怎么跑"],
     "在仓库根目录运行 python -m pytest tests 即可，测试默认使用内置演示模型，几分钟内完成。"),
    (["演示模型是怎么训练的", "内置模型怎么来的", "如何重新训练演示模型"], ["演示模型是如何构建的"],
     "运行 python data/demo_model/build.py：先用第9章的训练器预训练，再按第10章的数据格式做SFT，最后保存为官方格式。"),
    (["谢谢", "谢谢你", "多谢"], ["非常感谢"],
     "不客气！还有问题随时问我。"),
    (["再见", "拜拜"], ["回头见"],
     "再见，祝你学习顺利！"),
]

# 工具场景下的闲聊（有工具但不该调用）
TOOL_CHAT = [
    (["你好", "您好", "hi"], "你好！我可以帮你查询天气或股票价格，请告诉我城市名或股票代码。"),
    (["谢谢", "谢谢你"], "不客气！"),
    (["你能做什么", "你有哪些工具"], "我可以调用get_weather查询城市天气，调用track查询股票的实时价格。"),
]


def _question(rng: random.Random, templates: list[str], slot: str) -> str:
    return rng.choice(PREFIXES) + rng.choice(templates).format(x=slot) + rng.choice(SUFFIXES_Q)


def _tools_variant(rng: random.Random, need: str) -> list[dict]:
    """The tools list of one dialogue: the needed tool alone or with the other one, in either order."""
    other = "track" if need == "get_weather" else "get_weather"
    r = rng.random()
    if r < 0.3:
        return example_tools(need)
    return example_tools(need, other) if r < 0.65 else example_tools(other, need)


def weather_answer(rng: random.Random, city: str, result: dict) -> str:
    cur = result.get("current_condition")
    if cur:
        temp, desc, hum = cur["temp_C"], cur["weatherDesc"][0]["value"], cur["humidity"]
    elif "weather" in result:
        temp, desc, hum = result["temperature"].rstrip("℃"), result["weather"], result["humidity"].rstrip("%")
    else:
        temp, desc, hum = result["温度"].rstrip("℃"), result["天气"], None
    hum_part = f"，湿度{hum}%" if hum else ""
    return rng.choice(WEATHER_ANSWERS).format(city=city, desc=desc, temp=temp, hum_part=hum_part)


def stock_answer(rng: random.Random, symbol: str, result: dict) -> str:
    change_part = f"，涨跌幅{result['change']}" if "change" in result else ""
    return rng.choice(STOCK_ANSWERS).format(symbol=symbol, price=result["price"], change_part=change_part)


def tool_dialogue(rng: random.Random, kind: str, slot: str, templates: list[str], with_answer: bool = True,
                  short: bool = False) -> dict:
    """One official-format tool dialogue (``tools`` + conversations with a ``tool`` item).

    ``short``: the dialogue stops after the call (empty observation, no answer) — the call and its
    ``<|observation|>`` stop token are still trained, at a third of the tokens.
    """
    name, key = ("get_weather", "city_name") if kind == "weather" else ("track", "symbol")
    q = _question(rng, templates, slot)
    if kind == "weather":
        result, _ = weather_result(rng, slot)
        answer = weather_answer(rng, slot, result)
    else:
        result, _ = stock_result(rng, slot)
        answer = stock_answer(rng, slot, result)
    conv = [{"role": "system", "content": TOOL_SYSTEM_PROMPT},
            {"role": "user", "content": q},
            {"role": "tool", "name": name, "parameters": {key: slot},
             "observation": "" if short else json.dumps(result, ensure_ascii=False)}]
    if with_answer and not short:
        conv.append({"role": "assistant", "content": answer})
    return {"tools": _tools_variant(rng, name), "conversations": conv}


def faq_dialogue(rng: random.Random, heldout: bool = False) -> dict:
    """A one-turn FAQ or chapter question without tools (sometimes with the default system prompt)."""
    if rng.random() < 0.45:
        n, title, what = rng.choice(CHAPTERS)
        tpl = rng.choice(CHAPTER_Q_HELDOUT if heldout else CHAPTER_Q_TRAIN)
        q = tpl.format(n=n, c=CN_NUM[n])
        a = f"第{n}章《{title}》：{what}。"
    else:
        train_qs, held_qs, a = rng.choice(FAQ)
        q = rng.choice(held_qs if heldout else train_qs)
    q = q + rng.choice(["", "", "？", "?"])
    return {"conversations": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def tool_chat_dialogue(rng: random.Random) -> dict:
    qs, a = rng.choice(TOOL_CHAT)
    need = rng.choice(["get_weather", "track"])
    return {"tools": _tools_variant(rng, need),
            "conversations": [{"role": "system", "content": TOOL_SYSTEM_PROMPT},
                              {"role": "user", "content": rng.choice(qs)}, {"role": "assistant", "content": a}]}


def char_pool_from_texts(texts: list[str], size: int = 2500) -> str:
    """The ``size`` most frequent CJK characters of a corpus (the alphabet of made-up city names)."""
    from collections import Counter
    cnt = Counter(ch for t in texts for ch in t if "\u4e00" <= ch <= "\u9fff")
    return "".join(ch for ch, _ in cnt.most_common(size))


def made_up_name(rng: random.Random, city_chars: str, world_chars: str, char_pool: str, wide: str = "") -> str:
    """A made-up place name the model cannot have memorised, so copying is the only way to get it right:
    Chinese-looking names from characters of (training) city names, transliteration-looking long names from
    foreign city names, frequent characters of the corpus, or — the largest share — any CJK character of the
    vocabulary (``wide``): a name may start with 上 or 二 or use a rare character, and the model must copy it
    all the same instead of preferring characters it has seen in names."""
    r = rng.random()
    if r < 0.3:
        return random_name(rng, city_chars, 2, 4)
    if r < 0.42:
        return random_name(rng, world_chars, 3, 7)
    if r < 0.62 or not wide:
        return random_name(rng, char_pool, 2, 5)
    return random_name(rng, wide, 2, 6)


def wide_alphabet(texts: list[str]) -> str:
    """Every CJK character the demo tokenizer is trained on as a piece: those of the corpus and of the place-name
    lists (``slots``). Made-up names and copy tasks draw from it so that every character's embedding takes part
    in copying; the held-out *names* and wordings still never occur in training."""
    chars = {ch for t in texts for ch in t if "\u4e00" <= ch <= "\u9fff"}
    chars |= {ch for c in CHINA_CITIES + WORLD_CITIES for ch in c}
    return "".join(sorted(chars))


def name_alphabets(train_cities: list[str]) -> tuple[str, str]:
    """The characters of the training city names, and those of the foreign ones (for long transliterations)."""
    train_set = set(train_cities)
    city_chars = "".join(sorted({ch for c in train_cities for ch in c}))
    world_chars = "".join(sorted({ch for c in WORLD_CITIES if c in train_set for ch in c}))
    return city_chars, world_chars


def training_slot(rng: random.Random, kind: str, train_cities: list[str], alphabets: tuple[str, str], char_pool: str,
                  banned: set[str], real_share: float = 0.15, wide: str = "") -> str:
    """A slot value for training: real names (``real_share``), made-up names, Latin names, codes; never a
    held-out one. ``alphabets`` comes from :func:`name_alphabets`."""
    while True:
        if kind == "weather":
            r = rng.random()
            if r < real_share:
                s = rng.choice(train_cities) + rng.choice(SUFFIXES)
            elif r < 0.95:
                s = made_up_name(rng, *alphabets, char_pool, wide)
            else:
                s = rng.choice(LATIN_CITIES)
        else:
            s = rng.choice(KNOWN_TICKERS) if rng.random() < 0.05 else random_stock_code(rng)
        if not any(b in s for b in banned):      # not even inside a longer made-up name
            return s


def code_first_template(rng: random.Random, char_pool: str) -> str:
    """A stock question that starts with the code followed by one or two random characters ("{x}春价格多少"):
    the code ends where the character class changes, whatever word follows it (the held-out questions put
    words after the code that training never shows there)."""
    while True:
        t = rng.choice(_STOCK_CODE_FIRST)
        t = "{x}" + random_name(rng, char_pool, 1, 2) + t[len("{x}"):]
        if not any(p in t for p in HELDOUT_PHRASES):
            return t


def make_sft_records(n: int, seed: int, char_pool: str, tool_share: float = 0.8, short_share: float = 0.5,
                     real_share: float = 0.15, wide: str = "", code_first_share: float = 0.1) -> list[dict]:
    """``n`` training dialogues (official JSONL records), deterministic in ``seed``; ``short_share`` of the tool
    dialogues end right after the call (see ``tool_dialogue``); ``wide``: the alphabet of most made-up names
    (see ``made_up_name``); ``code_first_share`` of the stock questions come from ``code_first_template``."""
    rng = random.Random(seed)
    train_cities, _ = split_cities()
    banned = heldout_values()
    alphabets = name_alphabets(train_cities)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < tool_share:
            kind = "weather" if rng.random() < 0.5 else "stock"
            slot = training_slot(rng, kind, train_cities, alphabets, char_pool, banned, real_share, wide)
            if kind == "stock" and rng.random() < code_first_share:
                template = code_first_template(rng, char_pool)
            else:
                template = train_template(rng, kind)
            out.append(tool_dialogue(rng, kind, slot, [template], short=rng.random() < short_share))
        elif r < tool_share + 0.05:
            out.append(tool_chat_dialogue(rng))
        else:
            out.append(faq_dialogue(rng))
    return out


def make_eval_cases(seed: int = 12345, n_tool: int = 60, n_faq: int = 30) -> dict:
    """Held-out evaluation cases: unseen cities, unseen codes, unseen phrasings (templates and FAQ wordings)."""
    rng = random.Random(seed)
    _, held_cities = split_cities()
    codes = heldout_codes()
    tool_cases, obs_cases, faq_cases = [], [], []
    for i in range(n_tool):
        kind = "weather" if i % 2 == 0 else "stock"
        slot = held_cities[(i // 2) % len(held_cities)] if kind == "weather" else codes[(i // 2) % len(codes)]
        d = tool_dialogue(rng, kind, slot, WEATHER_HELDOUT if kind == "weather" else STOCK_HELDOUT,
                          with_answer=False)
        tool_case = {"tools": d["tools"], "query": d["conversations"][1]["content"],
                     "name": d["conversations"][2]["name"], "parameters": d["conversations"][2]["parameters"]}
        tool_cases.append(tool_case)
        result = json.loads(d["conversations"][2]["observation"])
        obs_cases.append({**tool_case, "observation": d["conversations"][2]["observation"],
                          "must_mention": _values_to_mention(result)})
    for _ in range(n_faq):
        d = faq_dialogue(rng, heldout=True)
        faq_cases.append({"query": d["conversations"][0]["content"], "answer": d["conversations"][1]["content"]})
    return {"tool": tool_cases, "observation": obs_cases, "faq": faq_cases}


def _values_to_mention(result: dict) -> list[str]:
    cur = result.get("current_condition")
    if cur:
        return [cur["temp_C"], cur["weatherDesc"][0]["value"]]
    if "weather" in result:
        return [result["temperature"].rstrip("℃"), result["weather"]]
    if "天气" in result:
        return [result["温度"].rstrip("℃"), result["天气"]]
    return [str(result["price"])] + ([result["change"]] if "change" in result else [])


@dataclass
class Config:
    n: int = arg(5, "number of training dialogues to print")
    seed: int = arg(0, "random seed of the generator")


def main(cfg: Config | None = None) -> dict:
    cfg = cfg or Config()
    """Print a few generated training records and eval cases; return them."""
    records = make_sft_records(cfg.n, cfg.seed, char_pool="天地人和春秋山水风云花月")
    for r in records:
        print(json.dumps(r, ensure_ascii=False))
    cases = make_eval_cases()
    print({k: len(v) for k, v in cases.items()})
    return {"records": records, "eval": cases}


if __name__ == "__main__":
    from common.cli import run

    run(main, Config, __doc__)
