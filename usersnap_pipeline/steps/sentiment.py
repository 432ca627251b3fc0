"""Sentiment over the warehouse: score each data point from its cached embedding and its rating
(incrementally). Reads data_points and data_point_embeddings, writes data_point_sentiment."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..themes.encoder import MINILM, holds_minilm, minilm_view
from ..themes.sentiment import SentimentModel, rating_score
from ..warehouse import Warehouse
from ..warehouse import schema as s
from .themes import EMBED_CHUNK, FEEDBACK, vectors_of


@dataclass
class SentimentReport:
    model_version: str
    data_points: int
    scored: int = 0  # now: new, edited or re-rated
    removed: int = 0
    waiting: int = 0  # not embedded yet: scored once they are
    text_unread: str | None = None  # why texts are not read (another encoder): ratings only
    per_label: dict[str, int] | None = None


def score(warehouse: Warehouse, model: SentimentModel, *, encoder_key: str, encoder_model: str) -> SentimentReport:
    """Score every data point whose embedded text or rating changed, or that an older model scored;
    drop the scores of data points that are gone. The text is read only through embeddings of the
    encoder the weights were trained on (alone, or as part of the default encoder); with another encoder,
    ratings alone decide."""
    dp, emb, snt = s.data_points.c, s.data_point_embeddings.c, s.data_point_sentiment.c
    reads_text = holds_minilm(encoder_model) and model.encoder == MINILM
    points = warehouse.fetch(
        sa.select(dp.feedback_id, dp.rating, dp.rating_scale, emb.encoder, emb.text_sha1)
        .select_from(s.data_points.outerjoin(s.data_point_embeddings, emb.feedback_id == dp.feedback_id))
        .where(FEEDBACK))
    done = {row.feedback_id: (row.model_version, row.text_sha1, row.rating, row.rating_scale)
            for row in warehouse.fetch(sa.select(snt.feedback_id, snt.model_version, snt.text_sha1, snt.rating,
                                                 snt.rating_scale))}
    ready = [row for row in points if row.encoder == encoder_key]
    stale = [row for row in ready
             if done.get(row.feedback_id) != (model.version, row.text_sha1, row.rating, row.rating_scale)]
    report = SentimentReport(model.version, len(points), scored=len(stale), waiting=len(points) - len(ready),
                             text_unread=None if reads_text else (
                                 f"the sentiment weights read {model.encoder} embeddings, the themes use "
                                 f"{encoder_model}: ratings alone decide"))
    for start in range(0, len(stale), EMBED_CHUNK):
        chunk = stale[start:start + EMBED_CHUNK]
        embedded = [row for row in warehouse.fetch_by_ids(sa.select(emb.feedback_id, emb.vector), emb.feedback_id,
                                                          [row.feedback_id for row in chunk])
                    if row.vector is not None] if reads_text else []
        logits = dict(zip([row.feedback_id for row in embedded],
                          model.logits(minilm_view(encoder_model, vectors_of(embedded))), strict=True)) if embedded else {}
        rows = []
        for row in chunk:
            found = model.score(logits.get(row.feedback_id), rating_score(row.rating, row.rating_scale))
            rows.append((row.feedback_id, *found, model.version, row.text_sha1, row.rating, row.rating_scale))
        warehouse.replace_rows({s.data_point_sentiment: rows}, feedback_ids=[row[0] for row in rows])
    gone = sorted(set(done) - {row.feedback_id for row in points})
    if gone:
        warehouse.replace_rows({s.data_point_sentiment: []}, feedback_ids=gone)
    report.removed = len(gone)
    report.per_label = {label: count for label, count in warehouse.fetch(
        sa.select(snt.sentiment, sa.func.count()).group_by(snt.sentiment))}
    return report

