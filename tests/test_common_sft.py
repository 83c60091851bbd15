"""Tests of common/sft.py: the official fine-tune format, tool expansion, masking, truncation, bad lines, padding.

Exact label layouts are checked with a transparent character tokenizer (one id per character, fixed role ids), so
the expected lists are written by hand; one test repeats the layout with the real ChatGLM3Tokenizer.
"""
from __future__ import annotations

import ast
import json

import pytest

from common.prompts import TOOL_SYSTEM_PROMPT, example_tools
from common.sft import (IGNORE_INDEX, SFTCollator, chat_turns, encode_record, expand_record, format_tool_call,
                        load_sft_examples, read_jsonl, shift_labels, tool_call_content, validate_record)

X = IGNORE_INDEX


class CharTokenizer:
    """build_single_message(role, metadata, content) = [role id] + chars(metadata + "\\n") + chars(content)."""
    commands = {"[gMASK]": 64790, "sop": 64792, "<|system|>": 64794, "<|user|>": 64795,
                "<|assistant|>": 64796, "<|observation|>": 64797}
    eos_token_id = 2
    pad_token_id = 0

    def get_command(self, token):
        return self.commands[token]

    @staticmethod
    def chars(text):
        return [ord(c) for c in text]

    def build_single_message(self, role, metadata, message):
        return [self.commands[f"<|{role}|>"]] + self.chars(metadata + "\n") + self.chars(message)


TOK = CharTokenizer()
G, SOP, SYS, USR, AST, OBS = (TOK.commands[k] for k in
                              ("[gMASK]", "sop", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"))
EOS = 2


def tool_record():
    return {
        "tools": example_tools("get_weather"),
        "conversations": [
            {"role": "user", "content": "北京天气?"},
            {"role": "tool", "name": "get_weather", "parameters": {"city_name": "北京"},
             "observation": {"temperature": 20, "weather": "晴"}},
            {"role": "assistant", "content": "晴，20度。"},
            {"role": "user", "content": "谢谢"},
            {"role": "assistant", "content": "不客气"},
        ],
    }


def test_tool_call_text_is_the_official_ast_unparse():
    assert format_tool_call({"city_name": "北京"}) == "tool_call(city_name='北京')"
    text = format_tool_call({"symbol": "600519", "n": 3, "x": [1.5, None], "ok": True, "d": {"a": "b"}})
    assert text == "tool_call(symbol='600519', n=3, x=[1.5, None], ok=True, d={'a': 'b'})"
    # quotes and newlines stay a single valid literal; the text is parsed, never evaluated
    tricky = format_tool_call({"q": "it's \"x\"\n__import__('os')"})
    call = ast.parse(tricky, mode="eval").body
    assert isinstance(call, ast.Call) and ast.literal_eval(call.keywords[0].value) == "it's \"x\"\n__import__('os')"
    assert tool_call_content({"city_name": "北京"}) == "```python\ntool_call(city_name='北京')\n```"


def test_tool_role_expansion_and_tools_system_message():
    msgs = expand_record(validate_record(tool_record()))
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "observation", "assistant", "user",
                                         "assistant"]
    assert msgs[0]["content"] == TOOL_SYSTEM_PROMPT and msgs[0]["tools"] == example_tools("get_weather")
    assert msgs[2]["metadata"] == "get_weather"
    assert msgs[2]["content"] == "```python\ntool_call(city_name='北京')\n```"
    assert msgs[3]["content"] == '{"temperature": 20, "weather": "晴"}'
    assert [m["loss"] for m in msgs] == [False, False, True, False, True, False, True]
    # the record's tools attach to the conversation's own system message
    rec = tool_record()
    rec["conversations"].insert(0, {"role": "system", "content": "你是网店客服。"})
    msgs = expand_record(validate_record(rec))
    assert msgs[0]["content"] == "你是网店客服。" and msgs[0]["tools"] == example_tools("get_weather")
    assert sum(m["role"] == "system" for m in msgs) == 1
    # a string observation is kept as is
    rec = tool_record()
    rec["conversations"][1]["observation"] = "20度"
    assert expand_record(validate_record(rec))[3]["content"] == "20度"


def test_exact_label_layout_multi_turn_with_tool_call():
    ex, status = encode_record(validate_record(tool_record()), TOK)
    assert status == "kept"
    c = TOK.chars
    sys_text = TOOL_SYSTEM_PROMPT + "\n" + json.dumps(example_tools("get_weather"), indent=4, ensure_ascii=False)
    call = "```python\ntool_call(city_name='北京')\n```"
    obs = '{"temperature": 20, "weather": "晴"}'
    ids = ([G, SOP]
           + [SYS] + c("\n") + c(sys_text)
           + [USR] + c("\n") + c("北京天气?")
           + [AST] + c("get_weather\n") + c(call)
           + [OBS] + c("\n") + c(obs)
           + [AST] + c("\n") + c("晴，20度。")
           + [USR] + c("\n") + c("谢谢")
           + [AST] + c("\n") + c("不客气")
           + [EOS])
    labels = ([X, X]
              + [X] * (2 + len(sys_text))
              + [X] * (2 + len("北京天气?"))
              + [X] + c("get_weather\n") + c(call)           # <|assistant|> is no target; the call is
              + [OBS] + [X] * (1 + len(obs))                 # <|observation|> ends the call turn; obs untrained
              + [X] + c("\n") + c("晴，20度。")
              + [USR] + [X] * (1 + len("谢谢"))               # <|user|> ends the answer turn
              + [X] + c("\n") + c("不客气")
              + [EOS])                                       # the final eos ends the last answer
    assert ex["input_ids"] == ids
    assert ex["labels"] == labels


def test_loss_false_masks_a_message_and_shift_rule():
    rec = {"conversations": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "loss": False},
                             {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}
    ex, _ = encode_record(validate_record(rec), TOK)
    c = TOK.chars
    assert ex["labels"] == ([X, X] + [X] * 3 + [X] * 3 + [X] * 3 + [X] + c("\n") + c("d") + [EOS])
    assert shift_labels([5, 6, 7, 8], [False, True, True, False]) == [X, X, 7, 8]


def test_truncation_drops_whole_trailing_turns_never_inside_an_answer():
    rec = validate_record(tool_record())
    full, _ = encode_record(rec, TOK)
    n = len(full["input_ids"])
    # one token short: the last turn (user 谢谢 + 不客气) goes, the text answer before it stays whole
    ex, status = encode_record(rec, TOK, max_length=n - 1)
    assert status == "truncated"
    c = TOK.chars
    assert ex["input_ids"][-(len("晴，20度。") + 1):] == c("晴，20度。") + [EOS]
    assert ex["labels"][-1] == EOS and len(ex["input_ids"]) <= n - 1
    # too short for the first finished answer (a cut right after the tool call is not allowed) -> dropped
    cut = ex["input_ids"].index(OBS)
    ex2, status2 = encode_record(rec, TOK, max_length=cut + 5)
    assert ex2 is None and status2.startswith("dropped")
    # exactly fits -> kept
    assert encode_record(rec, TOK, max_length=n)[1] == "kept"


def test_bad_lines_are_reported_with_line_numbers_and_skipped(tmp_path):
    lines = [
        json.dumps({"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}),
        "{not json",
        json.dumps({"conversations": "hello"}),
        json.dumps({"conversations": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}),
        json.dumps({"conversations": [{"role": "user", "content": "x"},
                                      {"role": "tool", "name": "get_weather", "parameters": {"city_name": "x"}}]}),
        json.dumps({"conversations": [{"role": "user", "content": 3}, {"role": "assistant", "content": "y"}]}),
        "",
        json.dumps({"conversations": [{"role": "user", "content": "x"}, {"role": "system", "content": "s"},
                                      {"role": "assistant", "content": "y"}]}),
        json.dumps({"conversations": [{"role": "user", "content": "x"},
                                      {"role": "tool", "name": "f", "parameters": {"a b": 1}, "observation": 1}]}),
        json.dumps({"content": "类型#上衣*材质#牛仔布", "summary": "一件牛仔上衣"}, ensure_ascii=False),
        json.dumps([1, 2]),
        json.dumps({"conversations": [{"role": "user", "content": "only a question"}]}),
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good, bad = read_jsonl(path)
    assert [n for n, _ in good] == [1, 10]
    reasons = dict(bad)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 8, 9, 11, 12]
    assert "invalid JSON" in reasons[2]
    assert "unknown role 'robot'" in reasons[4]
    assert "missing 'observation'" in reasons[5]
    assert "'content' must be a string" in reasons[6]
    assert "system message may only come first" in reasons[8]
    assert "not a Python identifier" in reasons[9]
    examples, stats = load_sft_examples(path, TOK)
    assert len(examples) == 2 and stats.kept == 2 and len(stats.bad) == 9
    assert "9 bad lines" in stats.summary()
    # AdvertiseGen: the prompt (content) is masked, the summary trained
    adv = examples[1]
    c = TOK.chars
    assert adv["labels"] == [X, X] + [X] * (2 + len("类型#上衣*材质#牛仔布")) + [X] + c("\n") + c("一件牛仔上衣") + [EOS]


def test_collator_pads_right_with_zero_and_minus_100():
    batch = SFTCollator()([{"input_ids": [5, 6, 7], "labels": [X, 6, 7]}, {"input_ids": [8], "labels": [X]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[X, 6, 7], [X, X, X]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    batch = SFTCollator(pad_to_multiple_of=4)([{"input_ids": [5], "labels": [5]}])
    assert batch["input_ids"].shape == (1, 4)


def test_chat_turns_give_history_query_and_reference():
    turns = chat_turns(validate_record(tool_record()))
    assert [t["role"] for t in turns] == ["user", "observation", "user"]
    assert turns[0]["answer"] == {"name": "get_weather", "parameters": {"city_name": "北京"}}
    assert turns[0]["history"][0]["tools"] == example_tools("get_weather")
    assert turns[1]["query"] == '{"temperature": 20, "weather": "晴"}'
    assert turns[1]["history"][-1] == {"role": "assistant", "metadata": "get_weather",
                                       "content": "```python\ntool_call(city_name='北京')\n```"}
    assert turns[2]["query"] == "谢谢" and turns[2]["answer"] == "不客气"


def test_real_tokenizer_layout(tmp_path):
    testing = pytest.importorskip("common.testing")
    from common.chatglm3 import load_tokenizer

    tok = load_tokenizer(testing.make_tiny_checkpoint(tmp_path / "tiny"))
    rec = validate_record(tool_record())
    ex, status = encode_record(rec, tok)
    assert status == "kept"
    ids, labels = ex["input_ids"], ex["labels"]
    assert ids[:2] == [tok.get_command("[gMASK]"), tok.get_command("sop")] and ids[-1] == tok.eos_token_id
    # same prefix as build_chat_input on the same history: training and inference see the same tokens
    turn = chat_turns(rec)[0]
    prompt = tok.build_chat_input(turn["query"], history=turn["history"], role="user")["input_ids"][0].tolist()
    assert ids[: len(prompt)] == prompt
    assert all(label == X for label in labels[: len(prompt)])
    # the answer after the bare <|assistant|> is trained
    assert labels[len(prompt)] == ids[len(prompt)]
