"""Search without recomputing: on PostgreSQL a stored `tsvector` column, generated from
`search_text` by the database itself (so every writer keeps it in step) and GIN-indexed, in place
of the expression index of 0010 (whose matches were rechecked by running `to_tsvector` on each
row again). On SQLite the FTS5 table gains prefix indexes for 2 and 3 characters: a short
prefix is then one index entry instead of a merge of every word that starts with it.

Adding a generated column rewrites `chat_turn` once, under a lock, on PostgreSQL."""

from django.db import migrations

# 0010's objects (migrations stay self-contained: copied, not imported).
OLD_PG_INDEX = (
    "CREATE INDEX IF NOT EXISTS chat_turn_search_gin ON chat_turn USING gin "
    "(to_tsvector('simple'::regconfig, COALESCE(search_text, '')))"
)
FTS_DROP = [
    "DROP TRIGGER IF EXISTS chat_turn_fts_insert",
    "DROP TRIGGER IF EXISTS chat_turn_fts_delete",
    "DROP TRIGGER IF EXISTS chat_turn_fts_update",
    "DROP TABLE IF EXISTS chat_turn_fts",
]
FTS_TRIGGERS = [
    "CREATE TRIGGER chat_turn_fts_insert AFTER INSERT ON chat_turn BEGIN "
    "INSERT INTO chat_turn_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER chat_turn_fts_delete AFTER DELETE ON chat_turn BEGIN "
    "INSERT INTO chat_turn_fts(chat_turn_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER chat_turn_fts_update AFTER UPDATE OF search_text ON chat_turn "
    "BEGIN INSERT INTO chat_turn_fts(chat_turn_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO chat_turn_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO chat_turn_fts(chat_turn_fts) VALUES ('rebuild')",
]

PG_FORWARD = [
    "ALTER TABLE chat_turn ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, COALESCE(search_text, ''))) STORED",
    "CREATE INDEX IF NOT EXISTS chat_turn_search_vector_gin ON chat_turn USING gin (search_vector)",
    "DROP INDEX IF EXISTS chat_turn_search_gin",
]
PG_BACKWARD = [
    OLD_PG_INDEX,
    "DROP INDEX IF EXISTS chat_turn_search_vector_gin",
    "ALTER TABLE chat_turn DROP COLUMN IF EXISTS search_vector",
]


def _fts(prefix: str) -> list[str]:
    return [
        *FTS_DROP,
        "CREATE VIRTUAL TABLE chat_turn_fts USING fts5("
        "search_text, content='chat_turn', content_rowid='id', "
        f"tokenize='unicode61 remove_diacritics 2'{prefix})",
        *FTS_TRIGGERS,
    ]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("chat", "0012_branches")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": _fts(", prefix='2 3'")}),
            _run({"postgresql": PG_BACKWARD, "sqlite": _fts("")}),
        )
    ]
