"""The full-text index search.py reads: PostgreSQL's GIN index, or SQLite's FTS5 table kept in
step with `chat_turn.search_text` by triggers. Nothing on other databases."""

from django.db import migrations

# The expression Django writes for SearchVector("search_text", config="simple"): the planner
# uses the index only for the same expression.
PG_INDEX = (
    "CREATE INDEX IF NOT EXISTS chat_turn_search_gin ON chat_turn USING gin "
    "(to_tsvector('simple'::regconfig, COALESCE(search_text, '')))"
)
PG_DROP = "DROP INDEX IF EXISTS chat_turn_search_gin"

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS chat_turn_fts USING fts5("
    "search_text, content='chat_turn', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS chat_turn_fts_insert AFTER INSERT ON chat_turn BEGIN "
    "INSERT INTO chat_turn_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS chat_turn_fts_delete AFTER DELETE ON chat_turn BEGIN "
    "INSERT INTO chat_turn_fts(chat_turn_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS chat_turn_fts_update AFTER UPDATE OF search_text ON chat_turn "
    "BEGIN INSERT INTO chat_turn_fts(chat_turn_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO chat_turn_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO chat_turn_fts(chat_turn_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS chat_turn_fts_insert",
    "DROP TRIGGER IF EXISTS chat_turn_fts_delete",
    "DROP TRIGGER IF EXISTS chat_turn_fts_update",
    "DROP TABLE IF EXISTS chat_turn_fts",
]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in statements.get(vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("chat", "0009_conversation_manage")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": [PG_INDEX], "sqlite": SQLITE_CREATE}),
            _run({"postgresql": [PG_DROP], "sqlite": SQLITE_DROP}),
        )
    ]
