"""The committed demo model (data/models/chatglm3-demo): official layout, common loader, tool calls, FAQ, stopping.

Held-out values only: the cities and stock codes asked here are never seen in the demo model's training data
(``data/demo_model/slots.py`` sets them aside), and the question wordings are the evaluation templates.
"""
from __future__ import annotations

import json
import sys

import pytest

from common.paths import DEMO_MODEL_DIR, REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "data" / "demo_model"))

pytestmark = pytest.mark.skipif(not (DEMO_MODEL_DIR / "config.json").exists(),
                                reason="demo model not built: python data/demo_model/build.py")

GEN = {"do_sample": False, "max_new_tokens": 64}


@pytest.fixture(scope="module")
def demo():
    from common.chatglm3 import load_model, load_tokenizer

    return load_model(None, precision="fp32", device="cpu"), load_tokenizer(None)


def test_official_layout_and_size():
    cfg = json.loads((DEMO_MODEL_DIR / "config.json").read_text(encoding="utf-8"))
    assert cfg["model_type"] == "chatglm"
    assert cfg["multi_query_group_num"] == 2 and cfg["torch_dtype"] in ("float16", "bfloat16")
    assert (DEMO_MODEL_DIR / "tokenizer.model").exists()
    from sentencepiece import sentencepiece_model_pb2 as pb
    spec = pb.ModelProto.FromString((DEMO_MODEL_DIR / "tokenizer.model").read_bytes()).trainer_spec
    assert not spec.input and not spec.model_prefix          # no paths of the machine that built it
    assert list(DEMO_MODEL_DIR.glob("*.safetensors"))
    total = sum(f.stat().st_size for f in DEMO_MODEL_DIR.iterdir() if f.is_file())
    assert total <= 30 * 2**20


def test_loads_through_common_loader(demo):
    from common.resolve import is_demo_model, resolve_model_path

    model, tok = demo
    assert type(model).__name__ == "GlmForCausalLM"
    assert is_demo_model(resolve_model_path(None))
    assert tok.get_command("<|observation|>") == tok.sp.vocab_size() + 8   # nine specials after the pieces


def test_heldout_city_tool_call(demo):
    from common.chatglm3 import chat
    from common.prompts import example_tools, tool_system_message
    from slots import split_cities

    model, tok = demo
    city = "宁波"
    assert city in split_cities()[1]                   # held out: never asked about in training
    history = [tool_system_message(example_tools("get_weather", "track"))]
    response, history = chat(model, tok, f"麻烦查一下{city}今天的天气", history=history, **GEN)
    assert response == {"name": "get_weather", "parameters": {"city_name": city}}
    assert history[-1]["metadata"] == "get_weather"


def test_heldout_stock_code_tool_call(demo):
    from common.chatglm3 import chat
    from common.prompts import example_tools, tool_system_message
    from slots import heldout_codes

    model, tok = demo
    code = "603601"
    assert code in heldout_codes()                     # held out: never asked about in training
    history = [tool_system_message(example_tools("track", "get_weather"))]
    response, _ = chat(model, tok, f"实时追踪{code}的价格", history=history, **GEN)
    assert response == {"name": "track", "parameters": {"symbol": code}}


def test_faq_answer_and_stop(demo):
    from common.chatglm3 import chat

    model, tok = demo
    limit = 128
    response, history = chat(model, tok, "怎么使用真实的ChatGLM3权重", do_sample=False, max_new_tokens=limit)
    assert "--model" in response and "CHATGLM3_MODEL" in response
    n_tokens = len(tok.encode(response, add_special_tokens=False))
    assert n_tokens < limit - 8                        # stopped on a stop token, not on the length limit
    greeting, _ = chat(model, tok, "你好", **GEN)
    assert "ChatGLM3" in greeting


def test_heldout_tool_calls_several_cases(demo):
    """All 60 held-out tool questions of the evaluation set (unseen cities/codes, unseen wordings) through chat():
    the committed model gets 55/60 (data/README.md); ≥ 53 leaves room for float differences between machines,
    and fails if a rebuild loses the copying skill."""
    from dialogues import make_eval_cases
    from evaluate_demo_model import tool_call_results

    model, tok = demo
    ok, failures = tool_call_results(model, tok, make_eval_cases()["tool"], **GEN)
    assert ok >= 53, f"only {ok}/60 held-out tool calls exact: {failures[:3]}"


# --- the build's data and batching (no trained model needed) -------------------------------------------------

def test_training_questions_never_use_heldout_values_or_wordings():
    import dialogues
    from slots import heldout_codes, split_cities

    held_templates = set(dialogues.WEATHER_HELDOUT + dialogues.STOCK_HELDOUT)
    for t in dialogues.WEATHER_TRAIN + dialogues.STOCK_TRAIN:
        assert "{x}" in t and t not in held_templates
        assert not any(p in t for p in dialogues.HELDOUT_PHRASES), t
    assert len(dialogues.WEATHER_TRAIN) > 1000 and len(dialogues.STOCK_TRAIN) > 1000
    banned = set(split_cities()[1]) | set(heldout_codes())
    # the "wide" alphabet contains every character of the held-out names: values must still never contain a name
    wide = "".join(sorted({ch for name in split_cities()[1] for ch in name}))
    for r in dialogues.make_sft_records(3000, 0, "天地人和春秋山水风云花月", wide=wide):
        for m in r["conversations"]:
            if m["role"] == "tool":
                value = next(iter(m["parameters"].values()))
                assert not any(b in value for b in banned), value
            elif m["role"] == "user" and "tools" in r:
                assert not any(p in m["content"] for p in dialogues.HELDOUT_PHRASES), m["content"]


def test_copy_tasks_never_contain_heldout_names():
    from corpus import copy_task_texts
    from slots import split_cities

    held = split_cities()[1]
    wide = "".join(sorted({ch for name in held for ch in name}))
    banned = frozenset(held[:10])
    texts = copy_task_texts(3000, 0, "天地人和", wide, banned)
    assert not any(b in t for t in texts for b in banned)
    assert sum(any(ch in wide for ch in t) for t in texts) > 300      # the wide alphabet is really used


def test_copy_examples_train_only_the_copied_part():
    from common.paths import DEMO_MODEL_DIR
    from common.tokenizer import ChatGLM3Tokenizer
    from corpus import copy_examples, copy_task_texts

    tok = ChatGLM3Tokenizer(str(DEMO_MODEL_DIR / "tokenizer.model"))
    texts = copy_task_texts(300, 0, "天地人和春秋山水风云花月")
    assert {("=>" in t) + 2 * ("名字" in t) + 4 * ("->" in t) for t in texts} == {1, 2, 4}
    for text, ex in zip(texts, copy_examples(texts, tok.sp, tok.eos_token_id)):
        sep = next(s for s in (" => ", "名字：'", " -> '") if s in text)
        trained = [i for i, label in zip(ex["input_ids"], ex["labels"]) if label != -100]
        assert trained[-1] == tok.eos_token_id
        assert tok.sp.decode(trained[:-1]) == text.rsplit(sep, 1)[1]
        assert ex["input_ids"][:len(ex["labels"])] == ex["input_ids"] and len(trained) < len(ex["input_ids"])


def test_long_copy_examples_copy_a_string_from_far_back():
    from common.paths import DEMO_MODEL_DIR
    from common.tokenizer import ChatGLM3Tokenizer
    from corpus import long_copy_examples

    tok = ChatGLM3Tokenizer(str(DEMO_MODEL_DIR / "tokenizer.model"))
    filler = ["床前明月光，疑是地上霜。举头望明月，低头思故乡。", "2019年度营业收入 | 1,234,567.89 | 同比增长 12.5%"] * 40
    examples = long_copy_examples(300, 0, tok.sp, tok.eos_token_id, filler, "天地人和春秋山水风云花月", max_fill=400,
                                  banned=frozenset({"春秋"}))
    assert len(examples) > 250
    far = 0
    for ex in examples:
        start = next(i for i, v in enumerate(ex["labels"]) if v != -100)
        trained = ex["labels"][start:]
        assert trained[-1] == tok.eos_token_id and ex["input_ids"][start:] == trained
        assert all(v == -100 for v in ex["labels"][:start]) and len(ex["labels"]) == len(ex["input_ids"])
        copied = trained[:-1]
        # what is trained is really in the text before, as the same tokens (no dummy-prefix space in between)
        prompt = ex["input_ids"][:start]
        spots = [i for i in range(len(prompt) - len(copied) + 1) if prompt[i:i + len(copied)] == copied]
        assert spots, tok.sp.decode(copied)
        far += start - spots[0] > 100
    assert far > 100                                   # most strings are copied from far back
    again = long_copy_examples(300, 0, tok.sp, tok.eos_token_id, filler, "天地人和春秋山水风云花月", max_fill=400,
                               banned=frozenset({"春秋"}))
    assert again == examples                           # seeded


def test_sft_batches_group_lengths_and_resume_exactly():
    from build import SFTBatches

    examples = [{"input_ids": list(range(n)), "labels": list(range(n))} for n in range(3, 60)]
    a = SFTBatches(examples, batch_size=4, seed=1, pool=5)
    widths = []
    for _ in range(3):
        x, y = a.next_batch()
        assert x.shape == y.shape and (y[:, :-1][y[:, :-1] != -100] == x[:, 1:][y[:, :-1] != -100]).all()
        widths.append(x.shape[1])
    state = a.state_dict()
    expected = [a.next_batch()[0] for _ in range(6)]
    b = SFTBatches(examples, batch_size=4, seed=99, pool=5)
    b.load_state_dict(state)
    assert all((b.next_batch()[0] == e).all() for e in expected)


def test_tiny_build_end_to_end(tmp_path):
    """The rebuild command, at toy size: every stage runs and the result loads through the common loader."""
    import build
    from common.chatglm3 import load_model, load_tokenizer
    from common.paths import REPO_ROOT

    if not (build.Path("/usr/share/games/fortunes") / "tang300").exists():
        pytest.skip("fortunes-zh not installed")
    parser_defaults = dict(
        out=str(tmp_path / "demo"), run_name="pytest-tiny-build", seed=0, threads=0, sp_vocab=12000,
        char_pool_size=500, sft_records=300, tool_share=0.85, short_share=0.7, real_city_share=0.15,
        copy_tasks=500, copy_steps=2, copy_batch_size=8, copy_lr=2e-3, hidden_size=64, num_layers=1, head_dim=16,
        kv_groups=2, tie_embeddings=True, ffn_hidden_size=128, seq_length=256, batch_size=4, pretrain_steps=2,
        pretrain_seq_len=32, lr=2e-3, sft_steps=2, sft_lr=2e-3, sft_copy_mix=50, long_copy_tasks=60,
        long_copy_steps=2, long_copy_lr=1e-3, long_copy_mix=20, long_copy_max_fill=200, sdpa_from=100,
        skills_records=40, skills_replay=20, skills_copy_mix=10,
        skills_steps=2, skills_short_steps=2, skills_short_records=40, skills_short_batch_size=4,
        skills_batch_size=4, skills_lr=1e-3, skills_dtype="bf16", skills_seq_length=1024, from_v2="",
        resume=False, evaluate=False, progress=False)
    results = build.main(build.Config(**parser_defaults))
    assert results["parameters"] < 2_000_000 and results["size_bytes"] < 3 * 2**20
    model, tok = load_model(tmp_path / "demo"), load_tokenizer(tmp_path / "demo")
    assert type(model).__name__ == "GlmForCausalLM" and tok.get_command("<|user|>") == tok.sp.vocab_size() + 6
    # trained tied, exported in the official layout as two equal tensors
    from safetensors.torch import load_file
    sd = load_file(str(tmp_path / "demo" / "model.safetensors"))
    assert sd["transformer.output_layer.weight"].equal(sd["transformer.embedding.word_embeddings.weight"])
    work = REPO_ROOT / "outputs" / "demo_model" / "pytest-tiny-build"
    assert {"pretrain", "copy", "sft", "long_copy", "skills_short", "skills", "v2"} <= {p.name for p in work.iterdir()}
    # the skills stage started from the exported v2 model and the export records the prompts it was trained on
    import skills
    stored = json.loads((tmp_path / "demo" / skills.PROMPTS_FILE).read_text(encoding="utf-8"))
    assert stored == skills.prompt_fingerprints()
    assert json.loads((tmp_path / "demo" / "config.json").read_text())["seq_length"] == 1024
    # deterministic given the seed: a second run of every stage writes the same bytes
    build.main(build.Config(**{**parser_defaults, "out": str(tmp_path / "again")}))
    for name in ("model.safetensors", "config.json", "tokenizer.model", skills.PROMPTS_FILE):
        assert (tmp_path / "demo" / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
