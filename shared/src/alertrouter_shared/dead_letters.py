"""Records a consumer cannot take, set aside with the reason (router and notifier): decoded against the event
contract, and dead-lettered with their original bytes and why, so an operator can fix and replay them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeAlias, TypeVar

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError

from alertrouter_shared.errors import TransientError
from alertrouter_shared.metrics import DEAD_LETTERED

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Model = TypeVar("Model", bound=BaseModel)


def decode_records(
    records: Sequence[Record], model: type[Model], contract: str
) -> tuple[list[tuple[Model, Record]], list[tuple[Record, str]]]:
    """The records that are ``model`` events, and the others with why not (``contract`` names it: "Page v1"). The
    reason names the field and the rule, never the value (an address, a label may be personal)."""
    decoded: list[tuple[Model, Record]] = []
    rejected: list[tuple[Record, str]] = []
    for record in records:
        if record.value is None:
            rejected.append((record, "empty record value"))
            continue
        try:
            decoded.append((model.model_validate_json(record.value), record))
        except ValidationError as exc:
            rejected.append((record, f"not a valid {contract}: {validation_reason(exc)}"))
    return decoded, rejected


def validation_reason(exc: ValidationError) -> str:
    """The first error's field and rule, without the input (``str(exc)`` repeats the value: a phone number)."""
    errors = exc.errors(include_input=False, include_url=False)
    if not errors:
        return "invalid"
    where = ".".join(str(part) for part in errors[0]["loc"])
    return f"{where}: {errors[0]['msg']}" if where else errors[0]["msg"]


async def dead_letter(
    producer: AIOKafkaProducer, topic: str, rejected: Sequence[tuple[Record, str]], timeout: float
) -> None:
    """Keep the original bytes and say why, so an operator can fix and replay them."""
    try:
        async with asyncio.timeout(timeout):
            futures = []
            for record, reason in rejected:
                headers = [
                    ("error", reason[:1000].encode()),
                    ("source_topic", record.topic.encode()),
                    ("source_partition", str(record.partition).encode()),
                    ("source_offset", str(record.offset).encode()),
                ]
                futures.append(await producer.send(topic, value=record.value, key=record.key, headers=headers))
            await asyncio.gather(*futures)
    except (TimeoutError, KafkaError) as exc:
        raise TransientError(f"dead-letter topic did not acknowledge: {exc!r}") from exc
    DEAD_LETTERED.labels(topic).inc(len(rejected))
