"""6.1 Company lookup: normalise a free-text mention to one canonical A-share company, or say "no match".

The candidates are the 4,366 companies of ``data/finreports/companies.csv`` (code, short name, full name). A mention
may be a short name, part of the full name, a code with or without exchange suffix, a typo, traditional characters
or a phrase with extra words (「海翔那家药企」「002099.SZ」「浙江海翔」). The lookup:

1. normalises the text (full-width -> half-width, traditional -> simplified with a small table, lower case);
2. a 6-digit code in the mention that is a known code wins outright (codes are unique);
3. otherwise BM25 (``ch06_rag.bm25``: jieba with the short names as user words + CJK bigrams) over one small
   document per company ranks the candidates;
4. the best candidate is accepted only if its *confidence* (idf-weighted share of the candidate name's bigrams
   that the mention contains, see :meth:`CompanyLookup.confidence`) reaches ``threshold``; else "no match".

API (ch13 and the appendix import it)::

    from ch06_rag.company_lookup import load_companies, CompanyLookup
    lookup = CompanyLookup(load_companies())            # ~3 s: jieba dictionary + index over 4,366 companies
    m = lookup.lookup("海翔那家药企")                      # Match(company=Company(code='002099', ...), score=..)
    m.company.short_name if m.company else "no match"
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .bm25 import BM25Index, ChineseTokenizer, cjk_bigrams, normalize_text

# 常见简体 -> 繁体（公司名里常见的字），生成测试集时用；查找时反过来把繁体还原成简体
SIMPLIFIED_TO_TRADITIONAL = dict(zip(
    "业东丝两严丰临为丽举义乐乔书买乱亚产亩亲亿仅从仑仓仪价众优伙会伟传伤伦侠侣侧侨债倾偿储儿兑党兰关兴养兽内冈册写军农冯冲决况冻净凉减凤凯击凿刘则刚创删别刹剂剑剧劝办务动励劲劳势勋华协单卖卢卫却厂厅历压厌厕厦县参双发变叙叠号叹吗启吴呐员听吨呜响哑哗唤啸团园围图圆圣场坏块坚坛坝坞坟坠垄垒垦垫埘墙壮声壳处备复够头夹夺奋奖妆妇妈娱娲娄孙学宁宝实宠审宪宫宽宾对寻导寿将尔尘尝层属屿岁岂岗岛岭岳峡币师帐带帧帮库应庙废开异弃张弥弯归当录彦彻征径忆忧怀态怜总恋恳恶悦惊惧惩惫惭惯愤愿慑懒戏战户执扩扫扬扰抚抛抢护报拟拥择挂挚挛挝挡挤挥损捡换据掳掷揽搀摄摆摇摊撑撵擞攒敌数斋斓斗斩断无旧时旷昙昼显晋晒晓晕暂术机杀杂权条来杨杰极构枪枫柜标栈栋栏树样档桥桦梦检棂椭楼榄槛欢欧歼殴毁毕毙气氢汇汉汤沟没沣沪泪泵泸泻泼泽洁洒浃浅浆浇浊测济浏浑浒浓涂涛涝涡涤润涧涨涩渊渍渐渔渗温湾湿溃溅滚满滤滥滨滩潇潜澜濑灏灭灯灵灾灿炉炖炜点炼烁烂烛烟烦烧烨烩热焕焖爱爷牍牵牺犹狈状犷狞独狭狮狱猎猪猫献环现玛珑琏琐琼瑶璎电画畅畴疖疗疟疡疮疯疱痈痉痒痪痫瘅瘗瘫癞皑盏盐监盖盗盘眍着睁瞒矫矾矿码砖砚砺础硕确碍礼祯祸禀禄离秃种积称秽税稳穷窃窍窑窜窝竞笃笋笔笺筑筛筹签简箩篮篱类粜粮糁紧累纠红纣纤约级纪纫纬纯纱纲纳纵纷纸纹纺纽线练组绅细织终绍经绑绒结绕绘给络绝绞统绢绣继绩绪续绮绰绳维绵综绽绿缀缆缉缓缔编缘缝缠缤缩缪罗罚罢罴羁翘耸耻聂聋职联聪肃肠肤肾肿胀胁胜胧胶脉脏脐脑脓脚脱脸腊腻腾舆舰舱艰艳艺节芦苍苏苹范茎荆荐荡荣荤药莱莲获莹莺萝营萧萨蓝蓟蔷蕴薮虏虑虚虫虽虾蚀蚁蚂蚕蛮蛰蜗蜡蝇蝉衅补衬袄袜装裆裤见观规视览觉誉计订认讨让训议讯记讲讳讶许论讼设访证评识诉诊词译试诗诚话诞诡询该详诫语误说请诸诺读课谁调谅谈谊谋谍谎谐谓谜谢谣谨谱豆贝贞负贡财责贤败货质贩贪贫购贯贵贷贸费贺贼资赋赌赏赔赖赚赛赞赠赵赶趋跃践踊踪蹿躏车轨轩转轮软轰轻载轿较辅辆辈辉辐辑输辖辞边达迁过迈运还这进远违连迟迩适选逊递逻遗邓邝邮邻郁郑酝酱释里鉴针钉钓钙钞钟钢钥钦钧钨钩钮钱钻铁铃铅铜铝铠铢铬铭银铸铺链销锁锂锅锋错锡锦键锻镀镇镜长门闪闭问闯闲间闵闷闸闹闻阀阁阅队阳阴阵阶际陆陈陕险随隐隶难雏雳雾霁静韩页顶项顺须顽顾顿颁颂预领颇频颓颖颗题颜额风飘飞饭饮饰饱饲饶饼馆首驱驶驻驾驿骂验骏骗骤鱼鲁鲜鸟鸡鸣鸭鸿鹏鹤麦黄齐齿龙龟",
    "業東絲兩嚴豐臨為麗舉義樂喬書買亂亞產畝親億僅從侖倉儀價眾優夥會偉傳傷倫俠侶側僑債傾償儲兒兌黨蘭關興養獸內岡冊寫軍農馮衝決況凍淨涼減鳳凱擊鑿劉則剛創刪別剎劑劍劇勸辦務動勵勁勞勢勛華協單賣盧衛卻廠廳歷壓厭廁廈縣參雙發變敘疊號嘆嗎啟吳吶員聽噸嗚響啞嘩喚嘯團園圍圖圓聖場壞塊堅壇壩塢墳墜壟壘墾墊塒牆壯聲殼處備復夠頭夾奪奮獎妝婦媽娛媧婁孫學寧寶實寵審憲宮寬賓對尋導壽將爾塵嘗層屬嶼歲豈崗島嶺嶽峽幣師帳帶幀幫庫應廟廢開異棄張彌彎歸當錄彥徹徵徑憶憂懷態憐總戀懇惡悅驚懼懲憊慚慣憤願懾懶戲戰戶執擴掃揚擾撫拋搶護報擬擁擇掛摯攣撾擋擠揮損撿換據擄擲攬攙攝擺搖攤撐攆擻攢敵數齋斕鬥斬斷無舊時曠曇晝顯晉曬曉暈暫術機殺雜權條來楊傑極構槍楓櫃標棧棟欄樹樣檔橋樺夢檢櫺橢樓欖檻歡歐殲毆毀畢斃氣氫匯漢湯溝沒灃滬淚泵瀘瀉潑澤潔灑浹淺漿澆濁測濟瀏渾滸濃塗濤澇渦滌潤澗漲澀淵漬漸漁滲溫灣濕潰濺滾滿濾濫濱灘瀟潛瀾瀨灝滅燈靈災燦爐燉煒點煉爍爛燭煙煩燒燁燴熱煥燜愛爺牘牽犧猶狽狀獷獰獨狹獅獄獵豬貓獻環現瑪瓏璉瑣瓊瑤瓔電畫暢疇癤療瘧瘍瘡瘋皰癰痙癢瘓癇癉瘞癱癩皚盞鹽監蓋盜盤瞘著睜瞞矯礬礦碼磚硯礪礎碩確礙禮禎禍稟祿離禿種積稱穢稅穩窮竊竅窯竄窩競篤筍筆箋築篩籌簽簡籮籃籬類糶糧糝緊累糾紅紂纖約級紀紉緯純紗綱納縱紛紙紋紡紐線練組紳細織終紹經綁絨結繞繪給絡絕絞統絹繡繼績緒續綺綽繩維綿綜綻綠綴纜緝緩締編緣縫纏繽縮繆羅罰罷羆羈翹聳恥聶聾職聯聰肅腸膚腎腫脹脅勝朧膠脈臟臍腦膿腳脫臉臘膩騰輿艦艙艱艷藝節蘆蒼蘇蘋範莖荊薦蕩榮葷藥萊蓮獲瑩鶯蘿營蕭薩藍薊薔蘊藪虜慮虛蟲雖蝦蝕蟻螞蠶蠻蟄蝸蠟蠅蟬釁補襯襖襪裝襠褲見觀規視覽覺譽計訂認討讓訓議訊記講諱訝許論訟設訪證評識訴診詞譯試詩誠話誕詭詢該詳誡語誤說請諸諾讀課誰調諒談誼謀諜謊諧謂謎謝謠謹譜豆貝貞負貢財責賢敗貨質販貪貧購貫貴貸貿費賀賊資賦賭賞賠賴賺賽贊贈趙趕趨躍踐踴蹤躥躪車軌軒轉輪軟轟輕載轎較輔輛輩輝輻輯輸轄辭邊達遷過邁運還這進遠違連遲邇適選遜遞邏遺鄧鄺郵鄰鬱鄭醞醬釋裡鑒針釘釣鈣鈔鐘鋼鑰欽鈞鎢鉤鈕錢鑽鐵鈴鉛銅鋁鎧銖鉻銘銀鑄鋪鏈銷鎖鋰鍋鋒錯錫錦鍵鍛鍍鎮鏡長門閃閉問闖閒間閔悶閘鬧聞閥閣閱隊陽陰陣階際陸陳陝險隨隱隸難雛靂霧霽靜韓頁頂項順須頑顧頓頒頌預領頗頻頹穎顆題顏額風飄飛飯飲飾飽飼饒餅館首驅駛駐駕驛罵驗駿騙驟魚魯鮮鳥雞鳴鴨鴻鵬鶴麥黃齊齒龍龜"))
TRADITIONAL_TO_SIMPLIFIED = {t: s for s, t in SIMPLIFIED_TO_TRADITIONAL.items() if t != s}

COMPANY_SUFFIXES = ("集团股份有限公司", "股份有限公司", "有限责任公司", "股份公司", "有限公司", "集团")
# 在 data/ch06/mentions.jsonl 上扫阈值得到（lookup_bm25_llm.py 打印整张表）
DEFAULT_THRESHOLD = 0.35
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def to_traditional(text: str) -> str:
    return "".join(SIMPLIFIED_TO_TRADITIONAL.get(c, c) for c in text)


def to_simplified(text: str) -> str:
    return "".join(TRADITIONAL_TO_SIMPLIFIED.get(c, c) for c in text)


def exchange_suffix(code: str) -> str:
    """``SH`` (Shanghai: 60xxxx, 68xxxx, 900xxx B shares), ``SZ`` (00/30/20xxxx), ``BJ`` (8x/4x)."""
    if code.startswith(("6", "9")):
        return "SH"
    if code.startswith(("8", "4")):
        return "BJ"
    return "SZ"


def core_name(full_name: str) -> str:
    """The full name without its legal-form suffix: 浙江海翔药业股份有限公司 -> 浙江海翔药业."""
    for suffix in COMPANY_SUFFIXES:
        if full_name.endswith(suffix) and len(full_name) > len(suffix) + 1:
            return full_name[: -len(suffix)]
    return full_name


@dataclass(frozen=True)
class Company:
    code: str
    short_name: str
    full_name: str
    years: tuple[int, ...] = ()

    @property
    def ts_code(self) -> str:
        """Code with exchange suffix, e.g. ``002099.SZ``."""
        return f"{self.code}.{exchange_suffix(self.code)}"


@dataclass
class Match:
    """Result of one lookup. ``company`` is None for "no match" (then ``best`` still tells who came closest)."""

    mention: str
    company: Company | None
    score: float                     # confidence in [0, 1] of the best candidate
    best: Company | None = None
    method: str = "bm25"             # "code" | "bm25" | "none"
    candidates: list[tuple[Company, float]] = field(default_factory=list)   # top BM25 candidates with raw scores

    @property
    def name(self) -> str:
        return self.company.short_name if self.company else "no match"


def load_companies(path: str | Path | None = None) -> list[Company]:
    """The candidate list (default ``data/finreports/companies.csv``; columns stock_code, short_name, full_name,
    years)."""
    from common.paths import DATA_DIR

    path = Path(path) if path else DATA_DIR / "finreports" / "companies.csv"
    if not path.is_file():
        from common.cli import UserError
        raise UserError(f"company list not found: {path}. To fix: pass --companies FILE.csv with columns "
                        f"stock_code,short_name,full_name")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        years = tuple(int(y) for y in (r.get("years") or "").split(";") if y.strip().isdigit())
        out.append(Company(r["stock_code"].strip().zfill(6), r["short_name"].strip(), r["full_name"].strip(), years))
    return out


def normalize_mention(text: str) -> str:
    """Full-width -> half-width, traditional -> simplified (table), lower case, exchange prefixes/suffixes split
    from the code (``sz002099`` -> ``sz 002099``)."""
    text = to_simplified(normalize_text(text or ""))
    text = re.sub(r"(?<=[a-z])(?=\d{6})|(?<=\d{6})(?=[a-z])", " ", text)
    return text.strip()


class CompanyLookup:
    """BM25 over one document per company (short name ×2, core name, full name, code, code.SUFFIX)."""

    def __init__(self, companies: Sequence[Company], backend: str = "bm25s", threshold: float = DEFAULT_THRESHOLD,
                 tokenizer: ChineseTokenizer | None = None):
        if not companies:
            raise ValueError("empty company list")
        self.companies = list(companies)
        self.threshold = threshold
        self.by_code = {c.code: c for c in self.companies}
        words = {c.short_name for c in self.companies} | {core_name(c.full_name) for c in self.companies}
        self.tokenizer = tokenizer or ChineseTokenizer(user_words=words, mode="search", bigrams=True)
        self.docs = [self.document(c) for c in self.companies]
        self.index = BM25Index.from_texts(self.docs, self.tokenizer, backend=backend)

    @staticmethod
    def document(c: Company) -> str:
        return " ".join([c.short_name, c.short_name, core_name(c.full_name), c.full_name, c.code, c.ts_code])

    def search(self, mention: str, k: int = 10) -> list[tuple[Company, float]]:
        """Top ``k`` candidates by raw BM25 score (no threshold)."""
        return [(self.companies[i], s) for i, s in self.index.search(normalize_mention(mention), k)]

    def confidence(self, mention: str, company: Company) -> float:
        """How much of the candidate's *name* the mention contains, in [0, 1]: the idf-weighted share of the CJK
        bigrams of its short name (or of its full name without the legal suffix, whichever is higher) that occur in
        the mention. Rare bigrams (「海翔」) weigh a lot, common ones (「股份」「科技」) almost nothing, so 「海翔那家药企」
        scores high for 海翔药业 while 「星河生物医药」 scores low for 博瑞医药 (only 「医药」 in common)."""
        text = normalize_mention(mention)
        have = set(cjk_bigrams(text))
        best = 0.0
        for name in (company.short_name, core_name(company.full_name)):
            name = normalize_mention(name)
            grams = cjk_bigrams(name)
            if not grams:                       # a name with no CJK pair (e.g. "TCL科技" has only 科技)
                best = max(best, 1.0 if name in text else 0.0)
                continue
            weights = {g: self.index.idf(g) + 1e-6 for g in grams}
            best = max(best, sum(w for g, w in weights.items() if g in have) / sum(weights.values()))
        return best

    def lookup(self, mention: str, threshold: float | None = None, k: int = 5) -> Match:
        threshold = self.threshold if threshold is None else threshold
        text = normalize_mention(mention)
        for code in _CODE.findall(text):                       # 代码唯一：精确命中直接返回
            if code in self.by_code:
                c = self.by_code[code]
                return Match(mention, c, 1.0, c, "code", [(c, 1.0)])
        hits = self.index.search(text, k)
        if not hits:
            return Match(mention, None, 0.0, None, "none", [])
        candidates = [(self.companies[i], s) for i, s in hits]
        best = self.companies[hits[0][0]]
        conf = self.confidence(text, best)
        return Match(mention, best if conf >= threshold else None, conf, best, "bm25", candidates)

    def lookup_many(self, mentions: Iterable[str], threshold: float | None = None) -> list[Match]:
        return [self.lookup(m, threshold) for m in mentions]


def candidate_tokens(text: str) -> list[str]:
    """CJK bigrams of a text (exposed for the generator's uniqueness checks)."""
    return cjk_bigrams(normalize_mention(text))


# ============================================================================ the LLM endpoint (6.1.2, 6.1.3)
def choice_candidates(lookup: CompanyLookup, gold_code: str, k: int, rng) -> list[Company]:
    """A small candidate list for the LLM-only lookup: the gold company (if any) and random others, shuffled."""
    others = [c for c in rng.sample(lookup.companies, k + 1) if c.code != gold_code][: k - (1 if gold_code else 0)]
    cands = others + ([lookup.by_code[gold_code]] if gold_code else [])
    rng.shuffle(cands)
    return cands


def llm_choose(ask, mention: str, candidates: Sequence[Company]) -> Company | None:
    """LLM-only lookup: the candidates are listed in the prompt and the model answers a number (0 = none).
    The reply is parsed (first number, else a candidate name it contains), never executed."""
    from .prompts import COMPANY_CHOICE_PROMPT

    listing = "\n".join(f"{i}. {c.short_name} {c.full_name} {c.code}" for i, c in enumerate(candidates, 1))
    reply = normalize_text(ask(COMPANY_CHOICE_PROMPT.format(candidates=listing, mention=mention)))
    m = re.search(r"\d+", reply)
    if m and len(m.group()) <= 3:
        n = int(m.group())
        return candidates[n - 1] if 1 <= n <= len(candidates) else None
    for c in candidates:
        if c.short_name.lower() in reply or c.code in reply:
            return c
    return None


def llm_normalise(ask, mention: str) -> str:
    """The model's cleaned-up name for a mention (first non-empty line, quotes and trailing punctuation removed)."""
    from .prompts import COMPANY_NORMALISE_PROMPT

    reply = ask(COMPANY_NORMALISE_PROMPT.format(mention=mention))
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    return line.strip("「」“”\"'：:。. ")[:40]


def llm_exact(lookup: CompanyLookup, name: str) -> Company | None:
    """The "LLM alone" normaliser: its output must *be* a canonical short name, full name or code."""
    key = normalize_mention(name)
    for c in lookup.companies:
        if key in (c.short_name.lower(), c.full_name.lower(), c.code, c.ts_code.lower()):
            return c
    return None


def llm_bm25_lookup(lookup: CompanyLookup, ask, mention: str, threshold: float | None = None) -> tuple[Match, str]:
    """6.1.3: the LLM normalises the mention, BM25 maps its output onto the canonical list, and the threshold says
    "no match" rather than guess. The raw mention is looked up too and the more confident of the two wins, so a
    model that garbles the name cannot make a clear mention worse. Returns (match, the LLM's output)."""
    cleaned = llm_normalise(ask, mention)
    raw = lookup.lookup(mention, threshold)
    if not cleaned:
        return raw, cleaned
    via_llm = lookup.lookup(cleaned, threshold)
    via_llm.mention = mention
    return (via_llm if via_llm.score > raw.score else raw), cleaned


def score_predictions(records: Sequence[dict], predicted_codes: Sequence[str]) -> dict:
    """accuracy (right company, or "no match" for a company not in the list), accuracy on listed companies,
    no-match precision (of the "no match" answers, how many were right) and recall."""
    n = len(records)
    right = sum(p == r["gold_code"] for r, p in zip(records, predicted_codes))
    listed = [(r, p) for r, p in zip(records, predicted_codes) if r["gold_code"]]
    said_none = [(r, p) for r, p in zip(records, predicted_codes) if not p]
    truly_none = [r for r in records if not r["gold_code"]]
    return {"n": n, "accuracy": right / n if n else 0.0,
            "accuracy_listed": sum(p == r["gold_code"] for r, p in listed) / len(listed) if listed else 0.0,
            "no_match_precision": (sum(not r["gold_code"] for r, _ in said_none) / len(said_none)
                                   if said_none else float("nan")),
            "no_match_recall": (sum(not p for r, p in zip(records, predicted_codes) if not r["gold_code"])
                                / len(truly_none) if truly_none else float("nan"))}


def load_mentions(path: str | Path | None = None) -> list[dict]:
    """The bundled mention test set (``data/ch06/mentions.jsonl``, made by ``make_mentions.py``)."""
    import json

    from common.paths import DATA_DIR

    path = Path(path) if path else DATA_DIR / "ch06" / "mentions.jsonl"
    if not path.is_file():
        from common.cli import UserError
        raise UserError(f"mention set not found: {path}. To fix: python ch06_rag/make_mentions.py")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
