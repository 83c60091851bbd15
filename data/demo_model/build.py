"""Build the built-in demo model ``data/models/chatglm3-demo`` from scratch — one command, CPU only, offline.

    python data/demo_model/build.py                      # ≈ 100 min on 2 CPU cores; deterministic given --seed
    python data/demo_model/build.py --from-v2 DIR --out OUT  # only the skills stage, from a v2 export (≈ 60 min)
    python data/demo_model/build.py --out outputs/my-demo   # build somewhere else (the committed model stays)

Stages (intermediates — checkpoints, loss curves, logs — go to ``outputs/demo_model/``):

1. corpora: Debian ``fortunes-zh`` texts (chapter 9's reader), synthetic copy tasks, hand-written FAQ answers and
   generated tool dialogues (``corpus.py``, ``dialogues.py``, ``slots.py``);
2. tokenizer: a sentencepiece BPE model (byte fallback, split digits, one piece per CJK character, the official
   tools prompt compressed to a few pieces); ``common.tokenizer.ChatGLM3Tokenizer`` appends the nine special tokens;
3. copy stage, from scratch, with the chapter-9 trainer (``ch09_glm_from_scratch.train.Trainer``) on a small
   ``GlmForCausalLM`` (the runtime's ChatGLM3 architecture): short copy tasks with the loss only on the copied part.
   The output layer is tied to the input embedding (``--tie-embeddings``; exported as the two equal tensors of the
   official layout). This is where the "copy what followed the earlier occurrence" (induction) circuit forms —
   after about 1,000 steps from scratch; mixed into a packed text stream, or started after the text pretraining,
   it formed far slower (measured: 2,000 such steps after pretraining reached 54 % of the copied tokens);
4. pretraining on the texts and FAQ answers with the same trainer (next-token loss on packed windows, some copy
   tasks mixed in so the circuit stays in use);
5. SFT with the same trainer on ChatGLM3-format dialogues encoded by ``common.sft`` (loss only on assistant turns)
   plus some copy tasks, batches grouped by length;
6. the skills stage (v3, ``skills.py``): from the v2 export (the fp16 files of stages 1-5), any declared tool in the
   serialisations real clients send, grounded answers with ``[n]``, JSON extraction and math expressions, each in the
   prompt the chapter sends (imported from the chapter), plus replayed v2 dialogues; bf16 autocast. Optional, off by
   default (measured worse, see ``data/README.md``): ``--long-copy-steps``/``--long-copy-mix``, long-range copy
   tasks (``corpus.long_copy_examples``: the string 20-900 tokens back inside real text) before and during it;
   ``--skills-short-steps``, a length curriculum (the same skills with 1-2 tools or 1-2 short passages first);
7. export with ``common.checkpoint.save_official_checkpoint`` (config.json ``model_type: chatglm``, fp16 safetensors,
   tokenizer.model), then ``evaluate_demo_model.py`` on held-out prompts through ``common.chatglm3.chat``.

``--resume`` continues an interrupted build from the stage checkpoints.
"""
from __future__ import annotations

import functools
import json
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))
from common.cli import arg, run  # noqa: E402


class SFTBatches:
    """Random batches of encoded SFT examples for the chapter-9 trainer: ``(x, y)`` with ``y`` already shifted.

    ``common.sft`` labels follow the transformers convention (the model shifts them); the chapter-9 trainer wants
    targets aligned with the inputs, so ``x = ids[:-1]`` and ``y = labels[1:]``. Examples are drawn at random
    ``pool`` batches at a time and grouped by length (little padding: about half the compute of mixed batches);
    the batches of a pool come in random order. Resumable: the state is the RNG and the pending batches.
    """

    def __init__(self, examples: list[dict], batch_size: int, seed: int, pool: int = 16):
        self.examples, self.batch_size, self.pool = examples, batch_size, pool
        self.rng = random.Random(seed)
        self.pending: list[list[int]] = []

    def _refill(self) -> None:
        idx = [self.rng.randrange(len(self.examples)) for _ in range(self.batch_size * self.pool)]
        idx.sort(key=lambda i: len(self.examples[i]["input_ids"]))
        self.pending = [idx[k:k + self.batch_size] for k in range(0, len(idx), self.batch_size)]
        self.rng.shuffle(self.pending)

    def next_batch(self):
        import torch

        if not self.pending:
            self._refill()
        batch = [self.examples[i] for i in self.pending.pop()]
        width = max(len(e["input_ids"]) for e in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for i, e in enumerate(batch):
            ids[i, :len(e["input_ids"])] = torch.tensor(e["input_ids"])
            labels[i, :len(e["labels"])] = torch.tensor(e["labels"])
        return ids[:, :-1], labels[:, 1:]

    def state_dict(self) -> dict:
        return {"rng": self.rng.getstate(), "pending": [list(b) for b in self.pending]}

    def load_state_dict(self, state: dict) -> None:
        st = state["rng"]
        self.rng.setstate((st[0], tuple(st[1]), st[2]))
        self.pending = [list(b) for b in state.get("pending", [])]


def sparse_lm_loss(model, x, y, sdpa_from: int = 0):
    """Cross-entropy computed only where there is a target: the LM head (a third of the compute of this small
    model) runs on the assistant tokens only, not on the prompt."""
    import torch.nn.functional as F

    # eager attention is faster for short batches on a CPU, SDPA for long ones (1.5x at 700 tokens; measured)
    model.config._attn_implementation = "sdpa" if sdpa_from and x.shape[1] > sdpa_from else "eager"
    hidden = model.model(input_ids=x).last_hidden_state
    keep = y != -100
    logits = model.lm_head(hidden[keep])
    return F.cross_entropy(logits.float(), y[keep])


def heldout_probe(tok):
    """A callback for the trainer: every ``every`` steps, the share of held-out tool questions whose whole call
    (metadata, code, ``<|observation|>``) is the greedy choice at every position (= greedy exact match)."""
    import torch

    from common.prompts import TOOL_SYSTEM_PROMPT
    from common.sft import tool_call_content
    from dialogues import make_eval_cases

    rows = []
    for c in make_eval_cases()["tool"]:
        prompt = tok.build_chat_ids(c["query"], [{"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": c["tools"]}])
        target = (tok.sp.encode(c["name"] + "\n") + tok.sp.encode(tool_call_content(c["parameters"]))
                  + [tok.get_command("<|observation|>")])
        rows.append((prompt, target))
    width = max(len(p) + len(t) for p, t in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    for i, (p, t) in enumerate(rows):
        ids[i, :len(p) + len(t)] = torch.tensor(p + t)
    history: list[tuple[int, float]] = []

    def probe(trainer, every: int = 250) -> None:
        if trainer.step % every:
            return
        model = trainer.model
        model.eval()
        with torch.no_grad():
            pred = model(input_ids=ids).logits.argmax(-1)
        model.train()
        ok = sum(pred[i, len(p) - 1:len(p) + len(t) - 1].tolist() == t for i, (p, t) in enumerate(rows))
        history.append((trainer.step, ok / len(rows)))
        print(f"[probe] step {trainer.step}: held-out tool-call exact match {ok}/{len(rows)}", flush=True)

    probe.history = history
    return probe


def copy_probe(tok, char_pool: str, wide: str = ""):
    """A callback for the copy stage: every ``every`` steps, the share of 120 unseen copy tasks (another seed)
    whose whole copied part is the greedy choice at every position."""
    import torch

    from corpus import copy_examples, copy_task_texts

    rows = copy_examples(copy_task_texts(120, 10_007, char_pool, wide), tok.sp, tok.eos_token_id)

    def probe(trainer, every: int = 250) -> None:
        if trainer.step % every:
            return
        model = trainer.model
        model.eval()
        ok = 0
        with torch.no_grad():
            for r in rows:
                ids = torch.tensor([r["input_ids"]])
                pred = model(input_ids=ids).logits[0, :-1].argmax(-1)
                want = torch.tensor(r["labels"][1:])
                keep = want != -100
                ok += bool((pred[keep] == want[keep]).all())
        model.train()
        print(f"[copy-probe] step {trainer.step}: unseen copy tasks exact {ok}/{len(rows)}", flush=True)

    return probe


def faq_texts() -> list[str]:
    """The FAQ answers and chapter descriptions as plain text (also part of the pretraining stream)."""
    from dialogues import CHAPTERS, FAQ, TOOL_CHAT

    return ([a for _, _, a in FAQ] + [a for _, a in TOOL_CHAT]
            + [f"第{n}章《{t}》：{w}。" for n, t, w in CHAPTERS])


def dialogue_texts(records: list[dict]) -> list[str]:
    """Plain texts of SFT records (questions, calls, observations, answers) for the tokenizer corpus."""
    from common.sft import tool_call_content

    out = []
    for r in records:
        for m in r["conversations"]:
            if m["role"] == "tool":
                out += [tool_call_content(m["parameters"]), m["observation"]]
            elif m["role"] != "system":
                out.append(m["content"])
    return out


def skills_probe(tok, char_pool: str, texts: list[str], per_skill: int = 24):
    """A callback for the skills stage: every ``every`` steps, per skill, the share of held-out-A cases whose whole
    reply is the greedy choice at every position (teacher-forced; the real evaluation generates)."""
    import torch

    from common.prompts import TOOL_SYSTEM_PROMPT
    from common.sft import tool_call_content
    from skills import SKILLS, make_skill_cases

    cases = make_skill_cases("A", char_pool, texts, n=per_skill)
    rows: dict[str, list] = {}
    for kind in SKILLS:
        for c in cases[kind][:per_skill]:
            if kind == "tool":
                hist = [{"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": c["tools"]}]
                query = c["query"]
                meta, content = ("", c["reply"]) if c["name"] is None else (c["name"], tool_call_content(c["parameters"]))
            else:
                hist = [{"role": "system", "content": c["system"]}] if c.get("system") else []
                query, meta, content = c["prompt"], "", c["reply"]
            prompt = tok.build_chat_ids(query, hist)
            target = tok.build_single_message("assistant", meta, content)[1:]
            rows.setdefault(kind, []).append((prompt, target))
    history: list[tuple[int, dict]] = []

    def probe(trainer, every: int = 200) -> None:
        if trainer.step % every:
            return
        model = trainer.model
        model.eval()
        scores = {}
        with torch.no_grad():
            for kind, rs in rows.items():
                ok = 0
                for p, t in rs:
                    ids = torch.tensor([p + t])
                    pred = model(input_ids=ids).logits[0, len(p) - 1:len(p) + len(t) - 1].argmax(-1).tolist()
                    ok += pred == t
                scores[kind] = f"{ok}/{len(rs)}"
        model.train()
        history.append((trainer.step, scores))
        print(f"[skills-probe] step {trainer.step}: " + " ".join(f"{k} {v}" for k, v in scores.items()), flush=True)

    probe.history = history
    return probe


def long_copy_probe(examples: list[dict], every: int = 100):
    """A callback: every ``every`` steps, teacher-forced accuracy on held-out long-range copy tasks (share of copied
    tokens that are the greedy choice, and of tasks copied whole)."""
    import torch

    history: list[tuple[int, float, float]] = []

    def probe(trainer) -> None:
        if trainer.step % every:
            return
        model = trainer.model
        model.eval()
        ok = tot = whole = 0
        with torch.no_grad():
            for e in examples:
                start = next(i for i, v in enumerate(e["labels"]) if v != -100)
                pred = model(input_ids=torch.tensor([e["input_ids"]])).logits[0, start - 1:-1].argmax(-1).tolist()
                hits = sum(a == b for a, b in zip(pred, e["labels"][start:]))
                ok, tot, whole = ok + hits, tot + len(pred), whole + (hits == len(pred))
        model.train()
        history.append((trainer.step, round(ok / tot, 3), round(whole / len(examples), 3)))
        print(f"[long-copy-probe] step {trainer.step}: copied tokens {ok / tot:.0%}, whole copies "
              f"{whole}/{len(examples)}", flush=True)

    probe.history = history
    return probe


def long_copy_data(cfg, tok, texts: list[str], pool: str, wide: str, banned: frozenset[str]):
    """Long-range copy tasks over corpus lines and report pages (a tenth of the filler held out for the probe):
    the training examples and ``[probe]``."""
    from corpus import long_copy_examples
    from skills import report_snippets

    filler = texts + list(report_snippets())
    random.Random(cfg.seed + 23).shuffle(filler)
    n_val = len(filler) // 10
    held = long_copy_examples(48, cfg.seed + 29, tok.sp, tok.eos_token_id, filler[:n_val], pool, wide,
                              cfg.long_copy_max_fill, banned)
    train = long_copy_examples(cfg.long_copy_tasks, cfg.seed + 31, tok.sp, tok.eos_token_id, filler[n_val:], pool,
                               wide, cfg.long_copy_max_fill, banned)
    return train, [long_copy_probe(held)]


def load_tied(cfg, model_dir: Path, vocab_size: int):
    """The exported (fp16) model of ``model_dir`` as a float32, tied ``GlmForCausalLM`` ready to train on."""
    from common.checkpoint import load_glm_from_official

    src = load_glm_from_official(model_dir)
    model = make_model(cfg, vocab_size, seq_length=cfg.skills_seq_length)
    sd = {k: v for k, v in src.state_dict().items() if k != "lm_head.weight"}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    return model


@dataclass
class Config:
    out: str = arg("", "output model folder (default: data/models/chatglm3-demo)")
    run_name: str = arg("build", "subfolder of outputs/demo_model for intermediates")
    seed: int = arg(0, "seed of every random choice (data, init, order)")
    threads: int = arg(2, "torch CPU threads (fixed for reproducibility; 0 = default)")
    sp_vocab: int = arg(12000, "sentencepiece pieces trained before CJK merges are pruned (≈ 8k remain)")
    char_pool_size: int = arg(2500, "CJK characters used for made-up city names")
    sft_records: int = arg(60000, "generated SFT dialogues")
    tool_share: float = arg(0.85, "share of SFT dialogues that call a tool")
    short_share: float = arg(0.7, "share of tool dialogues that stop after the call (the call is what must be "
                                  "copied right)")
    real_city_share: float = arg(0.15, "share of weather questions about real (training) cities; the rest mostly "
                                       "made-up names")
    copy_tasks: int = arg(200000, "synthetic copy tasks of the copy stage")
    copy_steps: int = arg(4000, "copy-stage steps (first stage, from scratch)")
    copy_batch_size: int = arg(64, "copy tasks per step")
    copy_lr: float = arg(2e-3, "peak learning rate of the copy stage")
    hidden_size: int = arg(256, "hidden size")
    num_layers: int = arg(4, "transformer layers")
    head_dim: int = arg(64, "kv_channels (head dimension)")
    kv_groups: int = arg(2, "multi_query_group_num (ChatGLM3: 2)")
    tie_embeddings: bool = arg(True, "train with the output layer tied to the input embedding (exported as two "
                                     "equal tensors, the official layout)")
    ffn_hidden_size: int = arg(768, "SwiGLU inner width")
    seq_length: int = arg(512, "longest SFT example (tokens); config seq_length")
    batch_size: int = arg(32, "sequences per step (pretraining and SFT)")
    pretrain_steps: int = arg(300, "pretraining steps")
    pretrain_seq_len: int = arg(64, "pretraining window length")
    lr: float = arg(2e-3, "peak learning rate of pretraining")
    sft_steps: int = arg(4000, "SFT steps")
    sft_lr: float = arg(1e-3, "peak learning rate of SFT")
    sft_copy_mix: int = arg(20000, "copy tasks mixed into the SFT examples")
    long_copy_tasks: int = arg(20000, "long-range copy tasks (the string to copy 20-900 tokens back in real text)")
    long_copy_steps: int = arg(0, "steps of long-range copy tasks only, before the skills stage (0: none; "
                                  "measured with 200: see data/README.md)")
    long_copy_lr: float = arg(1e-3, "peak learning rate of the long-copy steps")
    long_copy_mix: int = arg(0, "long-range copy tasks mixed into the skills stage (measured with 12000)")
    long_copy_max_fill: int = arg(900, "longest stretch of text between the string and where it is copied")
    skills_records: int = arg(60000, "generated skill dialogues (any declared tool, grounded QA, JSON, math)")
    skills_replay: int = arg(20000, "stage-5 dialogues replayed in the skills stage (nothing it could do gets worse)")
    skills_copy_mix: int = arg(5000, "copy tasks mixed into the skills stage")
    skills_steps: int = arg(2800, "skills-stage steps")
    skills_short_steps: int = arg(0, "length curriculum: steps on short-prompt skill dialogues (1-2 tools, 1-2 short "
                                     "passages) before the skills stage (0: none)")
    skills_short_records: int = arg(40000, "generated short-prompt skill dialogues of the curriculum steps")
    skills_short_batch_size: int = arg(32, "sequences per curriculum step")
    sdpa_from: int = arg(0, "skills stage: SDPA attention for batches longer than this many tokens, eager below "
                            "(0: always eager, as the committed model was trained; 450 is 1.5x faster at 700 tokens)")
    skills_batch_size: int = arg(16, "sequences per skills-stage step")
    skills_lr: float = arg(1e-3, "peak learning rate of the skills stage")
    skills_dtype: str = arg("bf16", "autocast dtype of the skills stage (bf16: ~1.8x faster on an AVX-512 CPU than "
                                    "fp32 for these long prompts; master weights stay fp32)", choices=["fp32", "bf16"])
    skills_seq_length: int = arg(1024, "longest skills example (tokens); the exported config seq_length")
    from_v2: str = arg("", "skip stages 1-5 and start the skills stage from this v2 model folder (the fp16 export "
                           "of stage 5, byte-identical to what stages 1-5 write; for recipe work)")
    resume: bool = arg(False, "continue stages from their checkpoints in outputs/")
    evaluate: bool = arg(True, "run the held-out evaluation at the end (--no-evaluate skips it)")
    progress: bool = arg(True, "tqdm progress bars (--no-progress: none)")


def run_stage(name: str, model, data, val, work: Path, cfg: Config, train: dict,
              **trainer_kwargs) -> dict:
    """One training stage with the chapter-9 trainer. ``train``: the stage's ``TrainConfig`` fields plus
    ``checkpoints`` (how many over the stage). Checkpoints go to ``work/name``, kept with ``--resume``, otherwise
    started afresh; an interrupted stage stops the build with a clear message."""
    from ch09_glm_from_scratch.train import TrainConfig, Trainer

    out = work / name
    if not cfg.resume:
        shutil.rmtree(out, ignore_errors=True)
    train = dict(train)
    ckpt_every = max(1, train["max_steps"] // train.pop("checkpoints"))
    settings = {"warmup_steps": 50, "eval_every": 10**9, "device": "cpu", "seed": cfg.seed, "progress": cfg.progress,
                "ckpt_every": ckpt_every, **train}
    result = Trainer(model, data, val, TrainConfig(out_dir=str(out), **settings), **trainer_kwargs).fit()
    if result["interrupted"]:
        raise SystemExit(f"[build] stopped during the {name} stage; run again with --resume to continue")
    return result


def make_model(cfg: Config, vocab_size: int, seq_length: int | None = None):
    import torch
    from transformers import GlmConfig, GlmForCausalLM

    conf = GlmConfig(vocab_size=(vocab_size + 63) // 64 * 64, hidden_size=cfg.hidden_size,
                     intermediate_size=cfg.ffn_hidden_size, num_hidden_layers=cfg.num_layers,
                     num_attention_heads=cfg.hidden_size // cfg.head_dim, num_key_value_heads=cfg.kv_groups,
                     head_dim=cfg.head_dim, partial_rotary_factor=0.5, attention_bias=True, rms_norm_eps=1e-5,
                     max_position_embeddings=seq_length or cfg.seq_length, pad_token_id=0, eos_token_id=2, bos_token_id=1,
                     tie_word_embeddings=cfg.tie_embeddings)
    conf._attn_implementation = "eager"      # faster than sdpa for these short sequences on CPU (training only)
    torch.manual_seed(cfg.seed)
    return GlmForCausalLM(conf)


def main(cfg: Config | None = None) -> dict:
    """Run all stages; return paths, sizes, losses, timings and the evaluation numbers."""
    import torch

    from common.checkpoint import save_official_checkpoint
    from common.paths import DEMO_MODEL_DIR, output_dir
    from common.sft import load_sft_examples
    from common.tokenizer import ChatGLM3Tokenizer
    from corpus import copy_examples, copy_task_texts, read_fortunes, train_demo_tokenizer
    from dialogues import char_pool_from_texts, make_sft_records, wide_alphabet
    from slots import CHINA_CITIES, WORLD_CITIES, heldout_values

    cfg = cfg or Config()
    t_start = time.time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    work = output_dir("demo_model", cfg.run_name)
    out_dir = Path(cfg.out) if cfg.out else DEMO_MODEL_DIR
    timings: dict[str, float] = {}

    def stage(name: str, t0: float) -> None:
        timings[name] = round(time.time() - t0, 1)
        print(f"[build] {name}: {timings[name]} s (total {time.time() - t_start:.0f} s)", flush=True)

    # 1. corpora ------------------------------------------------------------------------------------------------
    t0 = time.time()
    texts = read_fortunes()
    pool = char_pool_from_texts(texts, cfg.char_pool_size)
    wide = wide_alphabet(texts)
    records = make_sft_records(cfg.sft_records, cfg.seed, pool, tool_share=cfg.tool_share,
                               short_share=cfg.short_share, real_share=cfg.real_city_share, wide=wide)
    copies = copy_task_texts(cfg.copy_tasks, cfg.seed, pool, wide, heldout_values())
    faq = faq_texts()
    (work / "sft_train.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n",
                                         encoding="utf-8")
    stage("corpora", t0)

    results: dict = {}
    if not cfg.from_v2:
        # 2. tokenizer -------------------------------------------------------------------------------------------------
        t0 = time.time()
        # city names only add their characters to the vocabulary (CJK merges are pruned)
        tok_texts = texts + faq * 5 + dialogue_texts(records[:3000]) + [" ".join(CHINA_CITIES + WORLD_CITIES)]
        tok_stats = train_demo_tokenizer(work / "tokenizer.model", tok_texts, vocab_size=cfg.sp_vocab, seed=cfg.seed)
        tok = ChatGLM3Tokenizer(str(work / "tokenizer.model"))
        print(f"[build] tokenizer: {tok_stats['pieces_kept']} pieces (+9 special tokens)")
        stage("tokenizer", t0)

        # 3. copy stage, from scratch: short copy tasks, loss only on the copied part (chapter-9 trainer) ----------
        t0 = time.time()
        model = make_model(cfg, len(tok))
        n_params = sum(p.numel() for p in model.parameters())
        print(f"[build] model: {n_params / 1e6:.2f} M parameters")
        copy_set = copy_examples(copies, tok.sp, tok.eos_token_id)
        cp = run_stage("copy", model, SFTBatches(copy_set, cfg.copy_batch_size, cfg.seed), None, work, cfg,
                       dict(max_steps=cfg.copy_steps, batch_size=cfg.copy_batch_size, lr=cfg.copy_lr,
                            min_lr=cfg.copy_lr / 10, weight_decay=0.0, checkpoints=2),
                       loss_fn=sparse_lm_loss, callbacks=[copy_probe(tok, pool, wide)])
        print(f"[build] copy stage: {len(copy_set)} tasks, final loss {cp['train_loss'][-1][1]:.3f}")
        stage("copy", t0)

        # 4. pretraining on the texts (chapter-9 trainer, next-token loss on packed windows) --------------------------
        t0 = time.time()
        rng = random.Random(cfg.seed)
        docs = texts + faq * 20 + copies[:cfg.copy_tasks // 8]   # some copy tasks keep the copy circuit in use
        rng.shuffle(docs)
        n_val = 50
        stream: list[int] = []
        for ids in tok.sp.encode(docs[n_val:]):
            stream += ids + [tok.eos_token_id]
        val: list[int] = []
        for ids in tok.sp.encode(docs[:n_val]):
            val += ids + [tok.eos_token_id]
        pre = run_stage("pretrain", model, stream, val, work, cfg,
                        dict(max_steps=cfg.pretrain_steps, batch_size=cfg.batch_size, seq_len=cfg.pretrain_seq_len,
                             lr=cfg.lr, min_lr=cfg.lr / 10, weight_decay=0.1, checkpoints=2,
                             eval_every=max(1, cfg.pretrain_steps // 4), eval_batches=2))
        print(f"[build] pretraining: {len(stream)} tokens, final loss {pre['train_loss'][-1][1]:.3f}")
        stage("pretrain", t0)

        # 5. SFT (chapter-9 trainer, common.sft encoding) --------------------------------------------------------------
        t0 = time.time()
        examples, stats = load_sft_examples(records, tok, max_length=cfg.seq_length)
        print(f"[build] SFT: {stats.summary() if hasattr(stats, 'summary') else stats}")
        probe = heldout_probe(tok)
        # copy tasks stay in the mix (a share of the batches) so SFT does not wear the copy circuit down
        mixed = examples + copy_set[:cfg.sft_copy_mix]
        sft = run_stage("sft", model, SFTBatches(mixed, cfg.batch_size, cfg.seed), None, work, cfg,
                        dict(max_steps=cfg.sft_steps, batch_size=cfg.batch_size, lr=cfg.sft_lr, min_lr=cfg.sft_lr / 20,
                             weight_decay=0.0, checkpoints=4),
                        loss_fn=sparse_lm_loss, callbacks=[probe])
        avg_len = sum(len(e["input_ids"]) for e in examples) / len(examples)
        print(f"[build] SFT: {len(examples)} dialogues ({avg_len:.0f} tokens on average) + {len(mixed) - len(examples)} "
              f"copy tasks, final loss {sft['train_loss'][-1][1]:.3f}")
        stage("sft", t0)

        # the v2 model (stages 1-5), exported as the committed v2 model was: the skills stage starts from these bytes
        t0 = time.time()
        model.eval()
        v2_dir = work / "v2"
        shutil.rmtree(v2_dir, ignore_errors=True)
        save_official_checkpoint(model, v2_dir, tokenizer=tok, dtype=torch.float16, seq_length=cfg.seq_length)
        stage("export-v2", t0)
        results.update({"copy_loss": cp["train_loss"][-1][1], "pretrain_loss": pre["train_loss"][-1][1],
                        "sft_loss": sft["train_loss"][-1][1], "sft_examples": len(examples), "probe": probe.history})
    else:
        v2_dir = Path(cfg.from_v2)
        if v2_dir.resolve() == out_dir.resolve():
            from common.cli import UserError

            raise UserError(f"--from-v2 {v2_dir} is also the output folder. To fix: pass --out another folder")

    def clear_out_dir() -> None:
        """The old model goes only when the new one is about to be written (an interrupted build keeps it)."""
        if out_dir.exists():
            for f in out_dir.iterdir():
                if f.is_file():
                    f.unlink()

    if cfg.skills_steps <= 0:
        # no skills stage: the build's model is the v2 export itself, byte for byte
        tok = ChatGLM3Tokenizer(str(v2_dir / "tokenizer.model"))
        n_params = sum(p.numel() for p in load_tied(cfg, v2_dir, len(tok)).parameters())
        clear_out_dir()
        out_dir.mkdir(parents=True, exist_ok=True)
        for f in v2_dir.iterdir():
            if f.is_file():
                shutil.copyfile(f, out_dir / f.name)
    else:
        # 6. skills stage: any declared tool, grounded QA, JSON extraction, math (skills.py, the chapters' prompts) ---
        t0 = time.time()
        from skills import make_skill_records

        tok = ChatGLM3Tokenizer(str(v2_dir / "tokenizer.model"))
        model = load_tied(cfg, v2_dir, len(tok))
        n_params = sum(p.numel() for p in model.parameters())
        # 6a. optional long-range copy steps (the copy circuit of stage 3 only ever copied from a few dozen tokens
        # back; measured, not in the default recipe: see data/README.md)
        long_set, callbacks = [], []
        if cfg.long_copy_steps > 0 or cfg.long_copy_mix > 0:
            long_set, callbacks = long_copy_data(cfg, tok, texts, pool, wide, heldout_values())
        loss = functools.partial(sparse_lm_loss, sdpa_from=cfg.sdpa_from)
        if cfg.long_copy_steps > 0:
            lc = run_stage("long_copy", model, SFTBatches(long_set, cfg.skills_batch_size, cfg.seed + 5), None, work,
                           cfg, dict(max_steps=cfg.long_copy_steps, batch_size=cfg.skills_batch_size,
                                     lr=cfg.long_copy_lr, min_lr=cfg.long_copy_lr / 5, weight_decay=0.0,
                                     checkpoints=1, dtype=cfg.skills_dtype, log_every=25),
                           loss_fn=loss, callbacks=callbacks)
            results["long_copy_loss"] = lc["train_loss"][-1][1]
            stage("long-copy", t0)
            t0 = time.time()
        replay, _ = load_sft_examples(records[:cfg.skills_replay], tok, max_length=cfg.seq_length)
        sk_copies = copy_examples(copies[:cfg.skills_copy_mix], tok.sp, tok.eos_token_id)
        if cfg.skills_short_steps > 0:
            # 6b. optional length curriculum: the same skills on short prompts first (measured no better than
            # without it, not in the default recipe: see data/README.md)
            short_records = make_skill_records(cfg.skills_short_records, cfg.seed + 19, pool, texts, short=True)
            short_ex, _ = load_sft_examples(short_records, tok, max_length=cfg.skills_seq_length)
            short_mixed = short_ex + replay + sk_copies
            avg_short = sum(len(e["input_ids"]) for e in short_mixed) / len(short_mixed)
            print(f"[build] skills-short: {len(short_ex)} short skill dialogues + {len(replay)} replayed + "
                  f"{len(sk_copies)} copy tasks ({avg_short:.0f} tokens on average)")
            ss = run_stage("skills_short", model, SFTBatches(short_mixed, cfg.skills_short_batch_size, cfg.seed + 7),
                           None, work, cfg,
                           dict(max_steps=cfg.skills_short_steps, batch_size=cfg.skills_short_batch_size,
                                lr=cfg.skills_lr, min_lr=cfg.skills_lr / 5, weight_decay=0.0, checkpoints=2,
                                dtype=cfg.skills_dtype, log_every=50),
                           loss_fn=loss, callbacks=[skills_probe(tok, pool, texts)])
            results["skills_short_loss"] = ss["train_loss"][-1][1]
            stage("skills-short", t0)
            t0 = time.time()
        skill_records = make_skill_records(cfg.skills_records, cfg.seed + 17, pool, texts)
        (work / "skills_train.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in skill_records) + "\n", encoding="utf-8")
        sk_examples, sk_stats = load_sft_examples(skill_records, tok, max_length=cfg.skills_seq_length)
        print(f"[build] skills: {sk_stats.summary() if hasattr(sk_stats, 'summary') else sk_stats}")
        sk_mixed = sk_examples + replay + sk_copies + long_set[:cfg.long_copy_mix]
        sk_probe = skills_probe(tok, pool, texts)
        sk = run_stage("skills", model, SFTBatches(sk_mixed, cfg.skills_batch_size, cfg.seed + 6), None, work, cfg,
                       dict(max_steps=cfg.skills_steps, batch_size=cfg.skills_batch_size, lr=cfg.skills_lr,
                            min_lr=cfg.skills_lr / 20, weight_decay=0.0, checkpoints=4, dtype=cfg.skills_dtype,
                            log_every=50),
                       loss_fn=loss, callbacks=[sk_probe, *callbacks])
        avg_len = sum(len(e["input_ids"]) for e in sk_mixed) / len(sk_mixed)
        print(f"[build] skills: {len(sk_examples)} skill dialogues + {len(replay)} replayed + {len(sk_copies)} copy tasks "
              f"+ {min(len(long_set), cfg.long_copy_mix)} long-range copy tasks "
              f"({avg_len:.0f} tokens on average), final loss {sk['train_loss'][-1][1]:.3f}")
        results.update({"skills_loss": sk["train_loss"][-1][1], "skills_examples": len(sk_examples),
                        "skills_probe": sk_probe.history,
                        "long_copy_probe": callbacks[0].history if callbacks else []})
        stage("skills", t0)

        # 6. export + evaluation ----------------------------------------------------------------------------------------
        t0 = time.time()
        model.eval()
        clear_out_dir()
        save_official_checkpoint(model, out_dir, tokenizer=tok, dtype=torch.float16, seq_length=cfg.skills_seq_length)
        from skills import PROMPTS_FILE, prompt_fingerprints

        (out_dir / PROMPTS_FILE).write_text(json.dumps(prompt_fingerprints(), indent=1, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    size = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    print(f"[build] saved {out_dir} ({size / 2**20:.1f} MiB)")
    stage("export", t0)
    results.update({"out_dir": str(out_dir), "size_bytes": size, "parameters": n_params, "vocab": len(tok),
                    "timings": timings})
    if cfg.evaluate:
        t0 = time.time()
        from evaluate_demo_model import Config as EvalConfig
        from evaluate_demo_model import main as evaluate

        ev = evaluate(EvalConfig(model=str(out_dir)))
        results["eval"] = {k: v for k, v in ev.items() if k != "failures"}
        stage("evaluate", t0)
    results["total_s"] = round(time.time() - t_start, 1)
    (work / "build_results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"[build] done in {results['total_s'] / 60:.1f} min -> {out_dir}")
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
