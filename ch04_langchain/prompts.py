"""Every prompt chapter 4 uses, defined once (the QA bot, the knowledge graph; later chapters and the demo-model
build import them from here).

Templates use LangChain's f-string syntax, so ``PromptTemplate.from_template(X)`` / ``ChatPromptTemplate`` read them
directly; literal braces are doubled.
"""
from __future__ import annotations

# 4.1.4 第一个提示模板
FIRST_TEMPLATE = "请用一句话向{audience}介绍{topic}。"

# 4.1.5 格式化提示词：系统提示 + 用户问题
ASSISTANT_SYSTEM = "你是ChatGLM3，一个乐于助人的中文助手，回答简洁准确。"

# 4.2 专业问答机器人
QA_SYSTEM = ("你是“ChatGLM3本地化部署”领域的专业问答助手。只根据给出的知识库条目回答；"
             "知识库没有的内容，直接说“知识库中没有相关内容”，不要编造。")
QA_TEMPLATE = ("知识库条目（与问题最接近的{k}条）：\n{context}\n\n"
               "用户问题：{question}\n请根据上面的知识库条目，用中文简洁地回答。")
QA_CONTEXT_ITEM = "[{rank}] 问：{question}\n    答：{answer}"
NOT_IN_KB = "抱歉，这个问题不在我的知识库范围内（ChatGLM3 本地化部署、推理、微调与应用开发）。"

# 4.3.1 知识图谱抽取
KG_SYSTEM = "你是信息抽取助手，只输出JSON，不输出任何解释。"
KG_EXTRACT_TEMPLATE = (
    "从下面的段落中抽取知识三元组（头实体, 关系, 尾实体）。\n"
    "要求：实体用段落中的原词；关系用简短的中文动词或名词短语；"
    '只输出一个JSON数组，形如 [{{"head": "实体1", "relation": "关系", "tail": "实体2"}}]。\n\n'
    "段落：{paragraph}")
KG_REPAIR_TEMPLATE = (
    "你上一次的输出不是合法的JSON三元组数组，解析错误：{error}\n"
    "你上一次的输出是：\n{output}\n\n"
    '请只输出修正后的JSON数组，形如 [{{"head": "...", "relation": "...", "tail": "..."}}]。')

# 4.3.2 基于知识图谱的问答
KG_ANSWER_SYSTEM = "你是知识图谱问答助手，只根据给出的事实回答；事实不足时说“图谱中没有足够的信息”。"
KG_ANSWER_TEMPLATE = "已知事实（来自知识图谱）：\n{facts}\n\n问题：{question}\n请根据已知事实简洁回答。"
KG_NO_FACTS = "图谱中没有与问题相关的实体。"
