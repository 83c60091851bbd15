"""5.4.2 系统memory的使用 — RunnableWithMessageHistory with a SQLite history that survives a restart.

The modern replacement for ``ConversationChain`` + memory: an LCEL chain (prompt with a ``history`` placeholder |
chat model) wrapped in ``RunnableWithMessageHistory``, which loads the session's messages before the call and
appends the new exchange after it. The messages live in SQLite (``SQLChatMessageHistory`` from
langchain-community), one row per message, keyed by ``--session-id`` — stop the script, run it again with the
same id, and the model sees the earlier turns.

    python ch05_chains/sqlite_memory.py --session-id xiaoming --message "你好，我叫小明。"
    python ch05_chains/sqlite_memory.py --session-id xiaoming --message "我叫什么名字？"   # remembers (new process)
    python ch05_chains/sqlite_memory.py --session-id xiaoming --show                      # print the stored history
    python ch05_chains/sqlite_memory.py --session-id xiaoming --clear
    python ch05_chains/sqlite_memory.py --base-url http://127.0.0.1:8000/v1 --session-id s1 --message 你好
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    session_id: str = arg("demo", "conversation id: the same id continues the same conversation")
    message: list = arg([], "what to say (several values = several turns; default: one bundled greeting)")
    db: str | None = arg(None, "SQLite file (default: outputs/ch05/chat_history.sqlite)")
    show: bool = arg(False, "only print the stored history of --session-id")
    clear: bool = arg(False, "delete the stored history of --session-id and stop")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 48)


def default_db() -> Path:
    from common.paths import output_dir

    return output_dir("ch05") / "chat_history.sqlite"


def sqlite_history(db_path: str | Path, session_id: str):
    """The LangChain chat history of one session, stored in the SQLite file ``db_path``."""
    from langchain_community.chat_message_histories import SQLChatMessageHistory

    return SQLChatMessageHistory(session_id=session_id, connection=f"sqlite:///{Path(db_path)}")


def chain_with_history(chat_model, db_path: str | Path):
    """prompt(system, history, input) | chat model, wrapped so that history is loaded from / saved to SQLite."""
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
    from langchain_core.runnables.history import RunnableWithMessageHistory

    from ch05_chains.prompts import MEMORY_SYSTEM

    prompt = ChatPromptTemplate.from_messages([("system", MEMORY_SYSTEM), MessagesPlaceholder("history"),
                                               ("human", "{input}")])
    return RunnableWithMessageHistory(prompt | chat_model, lambda session_id: sqlite_history(db_path, session_id),
                                      input_messages_key="input", history_messages_key="history")


def chat_turn(chain, session_id: str, text: str) -> str:
    return chain.invoke({"input": text}, config={"configurable": {"session_id": session_id}}).content


def stored_messages(db_path: str | Path, session_id: str) -> list[tuple[str, str]]:
    return [(m.type, m.content) for m in sqlite_history(db_path, session_id).messages]


def main(cfg: Config) -> dict:
    if not cfg.session_id.strip():
        raise UserError("--session-id is empty. To fix: --session-id my-chat")
    if any(not m.strip() for m in cfg.message):
        raise UserError("--message contains an empty text. To fix: --message '你好'")
    db = Path(cfg.db).expanduser() if cfg.db else default_db()
    if cfg.db and not db.parent.is_dir():
        raise UserError(f"the folder of --db {db} does not exist. To fix: create it or choose another path")
    if cfg.clear:
        sqlite_history(db, cfg.session_id).clear()
        print(f"cleared session {cfg.session_id!r} in {db.name}")
        return {"db": str(db), "history": []}
    before = stored_messages(db, cfg.session_id)
    print(f"session {cfg.session_id!r}: {len(before)} stored messages in {db.name}")
    replies = []
    if not cfg.show:
        from ch05_chains.models import make_chat_model, print_stand_in

        chat_model = make_chat_model(cfg)
        chain = chain_with_history(chat_model, db)
        print_stand_in(chat_model)
        for text in cfg.message or ["你好，我叫小明，我在学习 LangChain 的记忆功能。"]:
            reply = chat_turn(chain, cfg.session_id, text)
            replies.append(reply)
            print(f"human: {text}\nai: {reply.strip()}")
    history = stored_messages(db, cfg.session_id)
    print(f"=== stored history of {cfg.session_id!r} ({len(history)} messages; next run continues from here)")
    for role, content in history:
        print(f"  [{role}] {content.strip()[:120]}")
    return {"db": str(db), "replies": replies, "history": history}


if __name__ == "__main__":
    run(main, Config, __doc__)
