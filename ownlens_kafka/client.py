"""What the producer and consumer share: stream binding, config, librdkafka logging."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import ValidationError

from ownlens_kafka.config import KafkaConfig, get_config
from ownlens_kafka.errors import EventValidationError
from ownlens_kafka.logs import with_logging
from ownlens_kafka.models import EventModel
from ownlens_kafka.streams import StreamSpec

M = TypeVar("M", bound=EventModel)


class StreamClient(Generic[M]):
    """A client bound to one stream of the table; named subclasses set `stream`."""

    stream: ClassVar[StreamSpec | None] = None

    def __init__(
        self,
        config: KafkaConfig | None = None,
        *,
        stream: StreamSpec | None = None,
        **settings: Any,
    ) -> None:
        spec = stream or type(self).stream
        if spec is None:
            raise TypeError(f"{type(self).__name__} needs a stream: pass stream=<StreamSpec>")
        self.spec: StreamSpec = spec
        self.config = config if config is not None else get_config()
        self.settings = settings

    @property
    def model(self) -> type[M]:
        return self.spec.model  # type: ignore[return-value]

    def validate(self, event: M | Mapping[str, Any]) -> M:
        """The event as the stream's model; raises EventValidationError naming each bad field."""
        model = self.model
        if isinstance(event, model):
            return event
        if isinstance(event, Mapping):
            try:
                return model.model_validate(event)
            except ValidationError as exc:
                raise EventValidationError(model.__name__, exc) from None
        raise TypeError(
            f"{type(self).__name__} takes {model.__name__} or a dict, not {type(event).__name__}"
        )

    def close(self) -> None:
        """Release the client."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _client_settings(self, base: dict[str, Any]) -> dict[str, Any]:
        """librdkafka settings: the config's, then this client's overrides, then callbacks."""
        return with_logging(base | self.settings)
