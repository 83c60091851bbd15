"""Slot values for the demo model's tool-call dialogues: city names, stock codes, weather and prices.

Everything here is written out by hand or drawn from a seeded random generator, so the training and
held-out sets are rebuilt identically offline. Held-out values (cities, codes) never occur in training:
``split_cities()`` sets a fixed share of the real city names aside, and training draws random codes
that ``is_heldout_code`` rejects.
"""
from __future__ import annotations

import random

# 中国地级市及常见县级市、区（手写列表，用于天气工具的 city_name）
CHINA_CITIES = """
北京 上海 天津 重庆 广州 深圳 杭州 南京 苏州 成都 武汉 西安 长沙 郑州 济南 青岛 沈阳 大连 哈尔滨 长春
石家庄 太原 呼和浩特 合肥 福州 厦门 南昌 南宁 海口 三亚 昆明 贵阳 拉萨 兰州 西宁 银川 乌鲁木齐 台北 香港 澳门
无锡 常州 南通 扬州 镇江 泰州 徐州 盐城 淮安 连云港 宿迁 宁波 温州 绍兴 嘉兴 湖州 金华 衢州 台州 丽水
舟山 芜湖 蚌埠 淮南 马鞍山 淮北 铜陵 安庆 黄山 滁州 阜阳 宿州 六安 亳州 池州 宣城 莆田 三明 泉州 漳州
南平 龙岩 宁德 景德镇 萍乡 九江 新余 鹰潭 赣州 吉安 宜春 抚州 上饶 淄博 枣庄 东营 烟台 潍坊 济宁 泰安
威海 日照 临沂 德州 聊城 滨州 菏泽 开封 洛阳 平顶山 安阳 鹤壁 新乡 焦作 濮阳 许昌 漯河 三门峡 南阳 商丘
信阳 周口 驻马店 黄石 十堰 宜昌 襄阳 鄂州 荆门 孝感 荆州 黄冈 咸宁 随州 恩施 株洲 湘潭 衡阳 邵阳 岳阳
常德 张家界 益阳 郴州 永州 怀化 娄底 韶关 珠海 汕头 佛山 江门 湛江 茂名 肇庆 惠州 梅州 汕尾 河源 阳江
清远 东莞 中山 潮州 揭阳 云浮 柳州 桂林 梧州 北海 防城港 钦州 贵港 玉林 百色 贺州 河池 来宾 崇左 自贡
攀枝花 泸州 德阳 绵阳 广元 遂宁 内江 乐山 南充 眉山 宜宾 广安 达州 雅安 巴中 资阳 六盘水 遵义 安顺 毕节
铜仁 曲靖 玉溪 保山 昭通 丽江 普洱 临沧 大理 西双版纳 日喀则 林芝 宝鸡 咸阳 铜川 渭南 延安 汉中 榆林 安康
商洛 嘉峪关 金昌 白银 天水 武威 张掖 平凉 酒泉 庆阳 定西 陇南 海东 格尔木 石嘴山 吴忠 固原 中卫 克拉玛依 吐鲁番
哈密 喀什 伊宁 库尔勒 阿克苏 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水 大同 阳泉 长治 晋城 朔州
晋中 运城 忻州 临汾 吕梁 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布 鞍山 抚顺 本溪 丹东 锦州 营口 阜新
辽阳 盘锦 铁岭 朝阳 葫芦岛 吉林 四平 辽源 通化 白山 松原 白城 延吉 齐齐哈尔 鸡西 鹤岗 双鸭山 大庆 伊春 佳木斯
七台河 牡丹江 黑河 绥化 漠河 义乌 昆山 江阴 常熟 张家港 晋江 石狮 寿光 即墨 胶州 满洲里 二连浩特 敦煌 香格里拉 景洪
""".split()

# 外国城市（中文译名）
WORLD_CITIES = """
东京 大阪 京都 首尔 釜山 新加坡 曼谷 河内 胡志明市 吉隆坡 雅加达 马尼拉 新德里 孟买 迪拜 伊斯坦布尔 莫斯科 圣彼得堡
伦敦 巴黎 柏林 慕尼黑 罗马 米兰 马德里 巴塞罗那 里斯本 阿姆斯特丹 布鲁塞尔 维也纳 布拉格 华沙 苏黎世 日内瓦 斯德哥尔摩
奥斯陆 赫尔辛基 哥本哈根 雅典 开罗 内罗毕 约翰内斯堡 纽约 洛杉矶 旧金山 西雅图 芝加哥 波士顿 华盛顿 温哥华 多伦多 蒙特利尔
墨西哥城 圣保罗 里约热内卢 布宜诺斯艾利斯 悉尼 墨尔本 奥克兰 惠灵顿
""".split()

# 英文城市名（少量，让模型见过拉丁字母的参数）
LATIN_CITIES = """
Beijing Shanghai Tokyo Paris London Berlin Seoul Sydney Boston Denver Dallas Austin Miami Oslo Rome Madrid Vienna Prague
Dublin Lisbon Zurich Geneva Munich Milan Osaka Kyoto Busan Hanoi Bangkok Manila Jakarta Delhi Mumbai Cairo Nairobi Lima
""".split()

# 常见股票（美股/港股代码）
KNOWN_TICKERS = """
AAPL MSFT GOOG AMZN TSLA NVDA META BABA JD PDD BIDU NIO XPEV LI NTES TME IBM INTC AMD ORCL NFLX DIS KO PEP NKE SBUX
""".split()

SUFFIXES = ("", "", "", "", "市")          # 城市名后偶尔带"市"
WEATHER_WORDS = ("晴", "多云", "阴", "小雨", "中雨", "大雨", "雷阵雨", "小雪", "大雪", "雾", "霾", "晴转多云", "多云转晴", "阵雨")
WEATHER_WORDS_EN = ("Sunny", "Clear", "Partly cloudy", "Cloudy", "Overcast", "Light rain", "Heavy rain", "Mist", "Fog", "Light snow")
WIND_WORDS = ("东风", "南风", "西风", "北风", "东北风", "西南风", "微风")


def split_cities(seed: int = 2023, heldout_share: float = 0.2) -> tuple[list[str], list[str]]:
    """Split the real city names into (train, held-out); the same seed always gives the same split."""
    names = sorted(set(CHINA_CITIES + WORLD_CITIES))
    rng = random.Random(seed)
    rng.shuffle(names)
    k = int(len(names) * heldout_share)
    return sorted(names[k:]), sorted(names[:k])


def random_name(rng: random.Random, char_pool: str, lo: int = 2, hi: int = 4) -> str:
    """A made-up 'city' of lo..hi characters drawn from ``char_pool``: teaches copying, not memorising."""
    return "".join(rng.choice(char_pool) for _ in range(rng.randint(lo, hi)))


def random_stock_code(rng: random.Random) -> str:
    """A random stock code in one of the common shapes: A-share 6 digits (opt. .SH/.SZ), HK, US ticker."""
    kind = rng.random()
    if kind < 0.55:
        prefix = rng.choice(("600", "601", "603", "605", "000", "001", "002", "003", "300", "301", "688"))
        code = prefix + "".join(rng.choice("0123456789") for _ in range(3))
        r = rng.random()
        if r < 0.15:
            code += ".SH" if code.startswith("6") else ".SZ"
        elif r < 0.22:
            code = ("sh" if code.startswith("6") else "sz") + code
        return code
    if kind < 0.70:
        n = "".join(rng.choice("0123456789") for _ in range(rng.choice((4, 5))))
        return n + ".HK" if rng.random() < 0.5 else n
    if kind < 0.80:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 6)))
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(2, 5)))


def heldout_codes(seed: int = 7, n: int = 60) -> list[str]:
    """Stock codes reserved for evaluation (training never asks about them)."""
    rng = random.Random(seed)
    codes: list[str] = []
    while len(codes) < n:
        c = random_stock_code(rng)
        if c not in codes and c not in KNOWN_TICKERS:
            codes.append(c)
    return codes


def heldout_values() -> frozenset[str]:
    """Every held-out slot value (city names and stock codes): training never uses a value that contains one."""
    return frozenset(split_cities()[1]) | frozenset(heldout_codes())


def weather_result(rng: random.Random, city: str) -> tuple[dict, list[str]]:
    """A tool result for get_weather and the values a good answer must mention.

    Mostly the shape of ``common.demo_tools.get_weather`` (what the chapters' offline tool returns), sometimes the
    official demo's wttr.in subset (``current_condition``) or Chinese keys, so the model reads values by key.
    """
    temp = str(rng.randint(-15, 39))
    hum = str(rng.randint(10, 99))
    shape = rng.random()
    if shape < 0.2:
        desc = rng.choice(WEATHER_WORDS_EN)
        res = {"current_condition": {"temp_C": temp, "FeelsLikeC": str(int(temp) + rng.randint(-3, 3)),
                                     "humidity": hum, "weatherDesc": [{"value": desc}]}}
        return res, [temp, desc, hum]
    desc = rng.choice(WEATHER_WORDS)
    if shape < 0.85:
        res = {"city": city, "weather": desc, "temperature": temp + "℃", "humidity": hum + "%"}
        if rng.random() < 0.7:
            res["source"] = "demo (fake data)"
        return res, [temp, desc, hum]
    res = {"城市": city, "天气": desc, "温度": temp + "℃", "风向": rng.choice(WIND_WORDS)}
    return res, [temp, desc]


def stock_result(rng: random.Random, symbol: str) -> tuple[dict, list[str]]:
    """A tool result for track: mostly ``common.demo_tools.track``'s shape, sometimes the official README's
    ``{"price": 12412}``; and the values to mention."""
    if rng.random() < 0.3:
        price = rng.randint(1, 99999)
    else:
        price = round(rng.uniform(1, 3000), 2)
    if rng.random() < 0.25:
        return {"price": price}, [str(price)]
    change = f"{rng.uniform(-10, 10):+.2f}%"
    res = {"symbol": symbol, "price": price, "change": change}
    if rng.random() < 0.7:
        res["source"] = "demo (fake data)"
    return res, [str(price), change]
