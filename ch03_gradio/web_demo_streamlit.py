"""3.4.2 基于 streamlit 的 ChatGLM3 网页客户端 — the gradio demo's features in streamlit.

    streamlit run ch03_gradio/web_demo_streamlit.py --server.address 127.0.0.1 -- --model /path/to/chatglm3-6b
    streamlit run ch03_gradio/web_demo_streamlit.py --server.address 127.0.0.1 -- --api-base http://127.0.0.1:8000
    python ch03_gradio/web_demo_streamlit.py --model ...     # the same: re-runs itself under `streamlit run`

Flags after ``--`` belong to this script; ``--server.*`` before it belong to streamlit (it listens on all
interfaces unless told ``--server.address 127.0.0.1``, which the ``python`` form passes for you). Streamlit's
usage statistics are off: the ``python`` form passes ``--browser.gatherUsageStats false`` and the repository's
``.streamlit/config.toml`` says the same for ``streamlit run`` started from the repository root.

Streamlit re-runs this whole file on every click: the model is loaded once (``st.cache_resource``), the
conversation lives in ``st.session_state.messages`` (OpenAI messages, as in the gradio demo), the reply streams
into an ``st.empty()`` placeholder, and tool calls / results are shown in expanders.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ch03_gradio.server.chat_client import ChatUIConfig  # noqa: E402  (light: no torch)
from common.cli import parse, run  # noqa: E402


Config = ChatUIConfig   # the same options as the gradio demo, without the launch flags


def _backend(cfg: Config):
    import streamlit as st

    @st.cache_resource(show_spinner="加载模型 loading the model…")
    def load(model, precision, device, api_base, api_key, api_model, seed):
        from ch03_gradio.server.chat_client import make_backend
        return make_backend(ChatUIConfig(model=model, precision=precision, device=device, api_base=api_base,
                                         api_key=api_key, api_model=api_model, seed=seed))

    return load(cfg.model, cfg.precision, cfg.device, cfg.api_base, cfg.api_key, cfg.api_model, cfg.seed)


def _render(st, messages: list[dict]) -> None:
    """Draw display messages (tool calls/results as expanders inside the assistant bubble)."""
    from ch03_gradio.server.chat_client import display_messages
    for m in display_messages(messages):
        with st.chat_message(m["role"]):
            meta = m.get("metadata")
            if meta:
                with st.expander(meta["title"], expanded=False):
                    st.markdown(m["content"])
            else:
                st.markdown(m["content"])


def main(cfg: Config) -> dict:
    import streamlit as st

    from ch03_gradio.server.chat_client import DEMO_TOOLS, GenSettings, chat_turn

    st.set_page_config(page_title="ChatGLM3 streamlit 客户端 (3.4.2)", page_icon="💬", layout="wide")
    backend = _backend(cfg)
    state = st.session_state
    state.setdefault("messages", [])
    with st.sidebar:
        st.markdown(f"### ChatGLM3 · 3.4.2\n模型 model: `{backend.name}`")
        system = st.text_area("系统提示词 system prompt", value=cfg.system)
        use_tools = st.checkbox("启用工具 get_weather / track (fake data)", value=cfg.tools)
        max_tokens = st.slider("max tokens", 1, 4096, cfg.max_new_tokens)
        top_p = st.slider("top_p", 0.0, 1.0, cfg.top_p, 0.01)
        temperature = st.slider("temperature (0 = greedy)", 0.0, 2.0, cfg.temperature, 0.01)
        repetition = st.slider("repetition penalty", 1.0, 2.0, cfg.repetition_penalty, 0.01)
        col1, col2 = st.columns(2)
        regenerate = col1.button("重新生成 Regenerate", width="stretch")
        if col2.button("清空 Clear", width="stretch"):
            state.messages = []
        if regenerate:  # drop the last answer before the conversation is drawn
            users = [i for i, m in enumerate(state.messages) if m["role"] == "user"]
            state.messages = state.messages[:users[-1] + 1] if users else []
    st.title("💬 ChatGLM3")
    _render(st, state.messages)
    prompt = st.chat_input("输入问题，回车发送 · ask something")
    if prompt:
        state.messages = state.messages + [{"role": "user", "content": prompt}]
        with st.chat_message("user"):
            st.markdown(prompt)
    if state.messages and state.messages[-1]["role"] == "user" and (prompt or regenerate):
        gen = GenSettings(max_tokens=max_tokens, temperature=temperature, top_p=top_p, repetition_penalty=repetition)
        placeholder = st.empty()
        new: list[dict] = []
        for new in chat_turn(backend, state.messages, gen, DEMO_TOOLS if use_tools else None, system):
            with placeholder.container():
                _render(st, new)
        state.messages = state.messages + new
    return {"messages": state.messages}


def _running_in_streamlit() -> bool:
    try:
        from streamlit import runtime
        return runtime.exists()
    except ImportError:
        return False


# Streamlit sends usage statistics to its developers unless told not to; the gradio apps send none either.
STREAMLIT_FLAGS = ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]


def relaunch_under_streamlit(argv: list[str]) -> list[str]:
    """The ``streamlit run`` command line this script hands over to when started with plain ``python``."""
    return [sys.executable, "-m", "streamlit", "run", str(Path(__file__).resolve()), *STREAMLIT_FLAGS, "--", *argv]


if __name__ == "__main__":
    if _running_in_streamlit():
        run(main, Config, __doc__)
    else:  # plain `python web_demo_streamlit.py ...`: check the flags, then hand over to `streamlit run`
        parse(Config, __doc__)
        cmd = relaunch_under_streamlit(sys.argv[1:])
        os.execv(sys.executable, cmd)
