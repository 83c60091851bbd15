"""ChatGLM3's tokenizer, re-implemented on top of transformers 5 (no ``trust_remote_code``).

Ids are identical to the official ``ChatGLMTokenizer``/``SPTokenizer`` for the same ``tokenizer.model``:

* the sentencepiece pieces keep their ids; the nine special tokens get the ids right after them, in the order
  ``[MASK] [gMASK] [sMASK] sop eop <|system|> <|user|> <|assistant|> <|observation|>``;
* ``encode(text)`` prepends ``[gMASK] sop``; one chat message is ``<|role|>`` + sp(metadata + "\\n") + sp(content);
* text that merely *looks* like a role token is ordinary text unless ``encode_special_tokens=True``
  (官方默认行为：防止用户输入伪造角色标记，即提示注入).

It is a real ``PreTrainedTokenizer`` so ``generate``, ``TextIteratorStreamer`` and data collators work with it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

import torch
from sentencepiece import SentencePieceProcessor
from transformers import BatchEncoding, PreTrainedTokenizer

SPECIAL_TOKENS = ["[MASK]", "[gMASK]", "[sMASK]", "sop", "eop",
                  "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"]
ROLE_TOKENS = SPECIAL_TOKENS[5:]
ROLES = ("system", "user", "assistant", "observation")


class ChatGLM3Tokenizer(PreTrainedTokenizer):
    """Drop-in replacement for the official ChatGLM3 tokenizer (same ids, same chat layout)."""

    vocab_files_names = {"vocab_file": "tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file: str, padding_side: str = "left", clean_up_tokenization_spaces: bool = False,
                 encode_special_tokens: bool = False, **kwargs: Any):
        self.vocab_file = vocab_file
        self.sp = SentencePieceProcessor(model_file=str(vocab_file))
        self.n_sp = self.sp.vocab_size()
        self.special_tokens = {tok: self.n_sp + i for i, tok in enumerate(SPECIAL_TOKENS)}
        self.index_special_tokens = {i: tok for tok, i in self.special_tokens.items()}
        # 官方：pad 与 unk 共用 id 0，eos=2，bos=1（未使用）
        self._commands = {"<bos>": self.sp.bos_id(), "<eos>": self.sp.eos_id(),
                          "<unk>": self.sp.unk_id(), "<pad>": self.sp.unk_id()}
        self._role_re = re.compile("|".join(re.escape(t) for t in ROLE_TOKENS))
        self.encode_special_tokens = encode_special_tokens
        for key in ("eos_token", "pad_token", "unk_token", "bos_token"):
            kwargs.pop(key, None)
        super().__init__(padding_side=padding_side, clean_up_tokenization_spaces=clean_up_tokenization_spaces,
                         eos_token=self.sp.id_to_piece(self.sp.eos_id()),
                         unk_token=self.sp.id_to_piece(self.sp.unk_id()),
                         pad_token=self.sp.id_to_piece(self.sp.unk_id()),
                         encode_special_tokens=encode_special_tokens, **kwargs)

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        return self.n_sp + len(SPECIAL_TOKENS)

    def __len__(self) -> int:
        return self.vocab_size

    def get_vocab(self) -> dict[str, int]:
        vocab = {self.sp.id_to_piece(i): i for i in range(self.n_sp)}
        vocab.update(self.special_tokens)
        return vocab

    def get_command(self, token: str) -> int:
        """Id of a command/special token: ``[gMASK]``, ``sop``, ``<|user|>``, ``<eos>``, ``<pad>`` ..."""
        if token in self._commands:
            return self._commands[token]
        if token not in self.special_tokens:
            raise KeyError(f"{token!r} is not a special token of ChatGLM3 (known: {SPECIAL_TOKENS})")
        return self.special_tokens[token]

    @property
    def eos_token_id(self) -> int:  # type: ignore[override]
        return self._commands["<eos>"]

    @property
    def pad_token_id(self) -> int:  # type: ignore[override]
        return self._commands["<pad>"]

    @property
    def unk_token_id(self) -> int:  # type: ignore[override]
        return self._commands["<unk>"]

    @property
    def stop_token_ids(self) -> list[int]:
        """Tokens that end an assistant turn (official chat(): eos, <|user|>, <|observation|>)."""
        return [self.eos_token_id, self.special_tokens["<|user|>"], self.special_tokens["<|observation|>"]]

    # ------------------------------------------------------------------ text <-> pieces
    def tokenize(self, text: str, **kwargs: Any) -> list[str]:  # type: ignore[override]
        """Pieces of ``text``; role tokens are parsed only with ``encode_special_tokens=True``."""
        encode_special = kwargs.get("encode_special_tokens", self.encode_special_tokens)
        if not encode_special:
            return self.sp.encode(text, out_type=str)
        pieces: list[str] = []
        last = 0
        for m in self._role_re.finditer(text):
            if last < m.start():
                pieces.extend(self.sp.encode(text[last:m.start()], out_type=str))
            pieces.append(m.group(0))
            last = m.end()
        if last < len(text):
            pieces.extend(self.sp.encode(text[last:], out_type=str))
        return pieces

    def _tokenize(self, text: str, **kwargs: Any) -> list[str]:
        return self.tokenize(text, **kwargs)

    def _convert_token_to_id(self, token: str) -> int:
        if token in self.special_tokens:
            return self.special_tokens[token]
        return self.sp.piece_to_id(token)

    def _convert_id_to_token(self, index: int) -> str:
        if index in self.index_special_tokens:
            return self.index_special_tokens[index]
        if index in (self.eos_token_id, self.sp.bos_id(), self.pad_token_id) or index < 0 or index >= self.n_sp:
            return ""
        return self.sp.id_to_piece(index)

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self.sp.decode_pieces([t for t in tokens if t])

    def _decode(self, token_ids: int | list[int], skip_special_tokens: bool = False,
                clean_up_tokenization_spaces: bool | None = None, **kwargs: Any) -> str:
        """Decode like the official SPTokenizer: sentencepiece for runs of ordinary ids (byte pieces
        are merged back into characters), special tokens written as their text."""
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        skip = {self.eos_token_id, self.sp.bos_id(), self.pad_token_id} if skip_special_tokens else set()
        text, buf = [], []
        for t in token_ids:
            t = int(t)
            if t in self.index_special_tokens:
                if buf:
                    text.append(self.sp.decode(buf))
                    buf = []
                if not skip_special_tokens:
                    text.append(self.index_special_tokens[t])
            elif t in skip:
                continue
            elif 0 <= t < self.n_sp:
                buf.append(t)
        if buf:
            text.append(self.sp.decode(buf))
        return "".join(text)

    # ------------------------------------------------------------------ ChatGLM3 layout
    def get_prefix_tokens(self) -> list[int]:
        return [self.get_command("[gMASK]"), self.get_command("sop")]

    def build_inputs_with_special_tokens(self, token_ids_0: list[int], token_ids_1: list[int] | None = None):
        ids = self.get_prefix_tokens() + token_ids_0
        if token_ids_1 is not None:
            ids = ids + token_ids_1 + [self.eos_token_id]
        return ids

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 3 if pair else 2

    def build_single_message(self, role: str, metadata: str, message: str) -> list[int]:
        """``<|role|>`` + sp(metadata + "\\n") + sp(message), exactly as the official tokenizer."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
        return ([self.get_command(f"<|{role}|>")] + self.sp.encode(f"{metadata}\n")
                + self.sp.encode(message))

    @staticmethod
    def message_content(item: dict) -> str:
        """Content of a history item as the model sees it (a system item's tools are appended as JSON)."""
        content = item["content"]
        if item["role"] == "system" and "tools" in item:
            content = content + "\n" + json.dumps(item["tools"], indent=4, ensure_ascii=False)
        return content

    def build_chat_ids(self, query: str, history: list[dict] | None = None, role: str = "user") -> list[int]:
        """Token ids of ``build_chat_input`` as a plain list."""
        ids = self.get_prefix_tokens()
        for item in history or []:
            ids.extend(self.build_single_message(item["role"], item.get("metadata", ""),
                                                 self.message_content(item)))
        ids.extend(self.build_single_message(role, "", query))
        ids.append(self.get_command("<|assistant|>"))
        return ids

    def build_chat_input(self, query: str, history: list[dict] | None = None, role: str = "user") -> BatchEncoding:
        """Prompt for the next assistant turn: prefix, every history message, the query, a bare ``<|assistant|>``."""
        ids = self.build_chat_ids(query, history, role)
        return BatchEncoding({"input_ids": torch.tensor([ids], dtype=torch.long),
                              "attention_mask": torch.ones(1, len(ids), dtype=torch.long)})

    # ------------------------------------------------------------------ saving
    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        name = (filename_prefix + "-" if filename_prefix else "") + "tokenizer.model"
        out = os.path.join(save_directory, name) if os.path.isdir(save_directory) else save_directory
        if os.path.abspath(self.vocab_file) != os.path.abspath(out):
            shutil.copyfile(self.vocab_file, out)
        return (out,)


def load_chatglm3_tokenizer(model_dir: str | os.PathLike, **kwargs: Any) -> ChatGLM3Tokenizer:
    """Tokenizer from a model folder holding the official ``tokenizer.model``."""
    path = os.path.join(os.fspath(model_dir), "tokenizer.model")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: a ChatGLM3 model folder holds tokenizer.model "
                                "(copy it from the official THUDM/chatglm3-6b files).")
    return ChatGLM3Tokenizer(vocab_file=path, **kwargs)
