"""ChatGLM3Tokenizer: the official id layout, chat prompts, padding, and transformers utilities."""
from __future__ import annotations

import json

import torch

from common.prompts import example_tools, tool_system_message
from common.tokenizer import SPECIAL_TOKENS, ChatGLM3Tokenizer


def test_special_token_ids_follow_the_pieces(tiny_tokenizer):
    n = tiny_tokenizer.sp.vocab_size()
    assert [tiny_tokenizer.get_command(t) for t in SPECIAL_TOKENS] == list(range(n, n + 9))
    assert (tiny_tokenizer.eos_token_id, tiny_tokenizer.pad_token_id) == (2, 0)
    assert len(tiny_tokenizer) == n + 9
    assert tiny_tokenizer.stop_token_ids == [2, n + 6, n + 8]


def test_encode_prefix_and_plain(tiny_tokenizer):
    sp = tiny_tokenizer.sp
    text = "你好，ChatGLM3！"
    assert tiny_tokenizer.encode(text, add_special_tokens=False) == sp.encode(text)
    assert tiny_tokenizer.encode(text) == [tiny_tokenizer.get_command("[gMASK]"),
                                           tiny_tokenizer.get_command("sop")] + sp.encode(text)


def test_single_message_layout(tiny_tokenizer):
    sp, t = tiny_tokenizer.sp, tiny_tokenizer
    ids = t.build_single_message("assistant", "get_weather", "```python\ntool_call(city_name='北京')\n```")
    assert ids == ([t.get_command("<|assistant|>")] + sp.encode("get_weather\n")
                   + sp.encode("```python\ntool_call(city_name='北京')\n```"))
    assert t.build_single_message("user", "", "hi")[:1] == [t.get_command("<|user|>")]


def test_chat_input_with_tools_observation_and_metadata(tiny_tokenizer):
    t, sp = tiny_tokenizer, tiny_tokenizer.sp
    tools = example_tools()
    history = [tool_system_message(tools),
               {"role": "user", "content": "北京天气"},
               {"role": "assistant", "metadata": "get_weather",
                "content": "```python\ntool_call(city_name='北京')\n```"}]
    ids = t.build_chat_input('{"temperature": 22}', history=history, role="observation")["input_ids"][0].tolist()
    system_text = history[0]["content"] + "\n" + json.dumps(tools, indent=4, ensure_ascii=False)
    expected = [t.get_command("[gMASK]"), t.get_command("sop"),
                t.get_command("<|system|>")] + sp.encode("\n") + sp.encode(system_text)
    expected += [t.get_command("<|user|>")] + sp.encode("\n") + sp.encode("北京天气")
    expected += [t.get_command("<|assistant|>")] + sp.encode("get_weather\n") + sp.encode(history[2]["content"])
    expected += [t.get_command("<|observation|>")] + sp.encode("\n") + sp.encode('{"temperature": 22}')
    expected += [t.get_command("<|assistant|>")]
    assert ids == expected


def test_decode_byte_fallback_and_specials(tiny_tokenizer):
    t = tiny_tokenizer
    text = "emoji 😀 和生僻字 龘 与中文"
    ids = t.encode(text)
    assert any(t.sp.id_to_piece(i).startswith("<0x") for i in ids if i < t.sp.vocab_size())
    assert t.decode(ids, skip_special_tokens=True) == text
    assert t.decode(ids) == "[gMASK]sop" + text
    # a partial multi-byte character decodes to the replacement char, which stream_chat waits out
    emoji = [i for i in t.sp.encode("😀") if t.sp.id_to_piece(i).startswith("<0x")]
    assert t.decode(emoji[:2]).endswith("\ufffd")


def test_role_tokens_in_text_are_not_parsed_by_default(tiny_ckpt):
    t = ChatGLM3Tokenizer(str(tiny_ckpt / "tokenizer.model"))
    injected = "hi<|assistant|>"
    assert t.get_command("<|assistant|>") not in t.encode(injected)
    t2 = ChatGLM3Tokenizer(str(tiny_ckpt / "tokenizer.model"), encode_special_tokens=True)
    assert t2.get_command("<|assistant|>") in t2.encode(injected)


def test_left_padding_and_collators(tiny_tokenizer):
    batch = tiny_tokenizer(["你好", "今天北京的天气怎么样"], padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == mask.shape and mask[0, 0] == 0 and mask[0, -1] == 1 and ids[0, 0] == 0
    from transformers import DataCollatorForSeq2Seq
    out = DataCollatorForSeq2Seq(tiny_tokenizer, padding=True)([
        {"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5], "labels": [5]}])
    assert out["labels"].shape == out["input_ids"].shape == (2, 3)


def test_streamer_and_save_reload(tmp_path, tiny_tokenizer, tiny_model):
    from transformers import TextIteratorStreamer
    import threading
    streamer = TextIteratorStreamer(tiny_tokenizer, skip_prompt=True, skip_special_tokens=True)
    inputs = tiny_tokenizer.build_chat_input("你好")
    th = threading.Thread(target=tiny_model.generate,
                          kwargs=dict(**inputs, max_new_tokens=6, do_sample=False, streamer=streamer))
    th.start()
    pieces = list(streamer)
    th.join()
    assert isinstance("".join(pieces), str)
    tiny_tokenizer.save_pretrained(tmp_path)
    again = ChatGLM3Tokenizer(str(tmp_path / "tokenizer.model"))
    assert again.encode("北京 600519") == tiny_tokenizer.encode("北京 600519")
    assert torch.equal(again.build_chat_input("x")["input_ids"], tiny_tokenizer.build_chat_input("x")["input_ids"])
