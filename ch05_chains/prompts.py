"""Every prompt text of chapter 5, defined once (scripts, tests and later chapters import them from here).

Only plain strings and small example lists live here, so importing this module is instant; the scripts wrap
them into LangChain ``PromptTemplate`` / ``ChatPromptTemplate`` objects.
"""
from __future__ import annotations

# ---------------------------------------------------------------- 5.1 templates
SYSTEM_ROLE = "你是一位{field}领域的专家，回答简洁准确。"
QUESTION_TEMPLATE = "请用一句话解释：{concept}"
QUESTION_TEMPLATE_JINJA2 = "请用一句话解释：{{ concept }}{% if audience %}（听众：{{ audience }}）{% endif %}"

# 反义词示例（FewShotPromptTemplate 与示例选择器共用）
ANTONYM_EXAMPLES = [
    {"word": "高", "antonym": "矮"},
    {"word": "快乐", "antonym": "悲伤"},
    {"word": "开始", "antonym": "结束"},
    {"word": "光明", "antonym": "黑暗"},
    {"word": "简单", "antonym": "复杂"},
    {"word": "热情", "antonym": "冷漠"},
]
ANTONYM_EXAMPLE_TEMPLATE = "词语：{word}\n反义词：{antonym}"
ANTONYM_PREFIX = "给出每个词语的反义词。"
ANTONYM_SUFFIX = "词语：{word}\n反义词："

# 5.2.2 按语义挑选示例：每条示例是一个问题和它所属的类别
TOPIC_EXAMPLES = [
    {"question": "明天北京会下雨吗？", "answer": "天气"},
    {"question": "上海这周气温多少度？", "answer": "天气"},
    {"question": "贵州茅台的股价是多少？", "answer": "股票"},
    {"question": "600519 今天涨了吗？", "answer": "股票"},
    {"question": "怎样用 LoRA 微调 ChatGLM3？", "answer": "微调"},
    {"question": "QLoRA 需要多少显存？", "answer": "微调"},
    {"question": "红烧肉怎么做？", "answer": "烹饪"},
    {"question": "蒸鱼要蒸几分钟？", "answer": "烹饪"},
]
TOPIC_EXAMPLE_TEMPLATE = "问题：{question}\n类别：{answer}"
TOPIC_PREFIX = "判断每个问题属于哪个类别。"
TOPIC_SUFFIX = "问题：{question}\n类别："

# 5.1.2 可嵌套的模板：几段模板组合成一个完整提示
NESTED_INTRO = "你正在扮演{person}。"
NESTED_EXAMPLE = "下面是一段对话示例：\n问：{example_q}\n答：{example_a}"
NESTED_START = "现在开始正式对话：\n问：{input}\n答："

# ---------------------------------------------------------------- 5.3 chains
# 与 LLMMathChain 默认提示同一格式（```text 代码块），中文说明；只允许一行数学表达式
MATH_PROMPT = """把数学问题翻译成一行可以用 numexpr 计算的数学表达式。只写数字、+ - * / ** % //、括号和 sqrt/log/exp/sin/cos 等函数。

问题：${{含有数学计算的问题}}
```text
${{一行数学表达式}}
```
...numexpr.evaluate(text)...
```output
${{计算结果}}
```
Answer: ${{答案}}

开始。

问题：37593 乘以 67 等于多少？
```text
37593 * 67
```
...numexpr.evaluate("37593 * 67")...
```output
2518731
```
Answer: 2518731

问题：37593 的五次方根是多少？
```text
37593**(1/5)
```
...numexpr.evaluate("37593**(1/5)")...
```output
8.222831614237718
```
Answer: 8.222831614237718

问题：{question}
"""

MATH_QUESTIONS = [
    "一件衣服原价 280 元，打八五折后多少钱？",
    "2 的 10 次方是多少？",
    "一个半径为 3 米的圆，面积是多少平方米？",
]

# 5.3.2 LLMCheckerChain：起草 -> 列出假设 -> 逐条核对 -> 修订
CHECKER_DRAFT = "{question}\n\n"
CHECKER_ASSERTIONS = "下面是一段陈述：\n{statement}\n请用项目符号列出得出这段陈述时所做的假设。\n\n"
CHECKER_CHECK = "下面是一组假设：\n{assertions}\n逐条判断每个假设是真是假；如果是假的，说明原因。\n\n"
CHECKER_REVISE = ("{checked_assertions}\n\n问题：根据上面的假设和核对结果，你会怎样回答问题“{question}”？\n\n答案：")
CHECKER_QUESTION = "哺乳动物中体型最大的是哪种动物？"

# ---------------------------------------------------------------- 5.4 memory
CONVERSATION_TEMPLATE = ("下面是人类和 AI 之间的友好对话。AI 健谈，会根据上下文给出具体细节；不知道答案时就直说不知道。\n\n"
                         "当前对话：\n{history}\n人类：{input}\nAI：")
CONVERSATION_TURNS = ["你好，我叫小明，我在学习 ChatGLM3。", "LangChain 的记忆有什么用？",
                      "我刚才说我在学什么？", "我叫什么名字？"]
SUMMARY_TEMPLATE = ("逐步总结对话内容，在已有摘要的基础上加入新的对话，返回新的摘要。\n\n已有摘要：\n{summary}\n\n"
                    "新的对话：\n{new_lines}\n\n新的摘要：")
MEMORY_SYSTEM = "你是一个乐于助人的中文助手，请结合之前的对话回答。"

# ---------------------------------------------------------------- 5.5 synopsis -> review -> post
SYNOPSIS_TEMPLATE = "你是一位编剧。根据剧名写一段约 100 字的剧情梗概。\n\n剧名：{title}\n剧情梗概："
REVIEW_TEMPLATE = "你是一位影评人。根据下面的剧情梗概写一段约 80 字的评论。\n\n剧情梗概：\n{synopsis}\n评论："
POST_TEMPLATE = ("你是一家剧院的运营。根据剧情梗概和评论，写一条宣传文案。\n\n剧情梗概：\n{synopsis}\n\n评论：\n{review}\n\n"
                 "宣传文案：")
# 5.5.3 额外参数：时代、受众、平台
SYNOPSIS_EXTRA_TEMPLATE = ("你是一位编剧。根据剧名和故事发生的时代写一段约 100 字的剧情梗概。\n\n剧名：{title}\n时代：{era}\n"
                           "剧情梗概：")
REVIEW_EXTRA_TEMPLATE = ("你是一位影评人，为{audience}写评论。根据下面的剧情梗概写一段约 80 字的评论。\n\n"
                         "剧情梗概：\n{synopsis}\n评论：")
POST_EXTRA_TEMPLATE = ("你是一家剧院的运营。根据剧情梗概和评论，为{platform}写一条面向{audience}的宣传文案，"
                       "符合该平台的风格。\n\n剧情梗概：\n{synopsis}\n\n评论：\n{review}\n\n宣传文案：")
STORY_TITLE = "日落海滩上的悲剧"
STORY_EXTRAS = {"era": "维多利亚时代的英国", "audience": "年轻观众", "platform": "微博"}
