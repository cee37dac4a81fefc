"""Class-based actors: subclasses of GenericActor become actor instances."""

from __future__ import annotations

from typing import Any


class generic_actor(type):
    """Metaclass turning each concrete GenericActor subclass into a declared actor."""

    def __new__(metacls, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> Any:
        clazz = super().__new__(metacls, name, bases, attrs)
        meta: Any = getattr(clazz, "Meta", object())
        if getattr(meta, "abstract", False):
            # Subclasses inherit this Meta; they are concrete unless they say otherwise.
            meta.abstract = False
            return clazz
        options = {key: getattr(meta, key) for key in vars(meta) if not key.startswith("_")}
        options.pop("abstract", False)
        from .actor import actor

        instance = clazz()
        registry = options.pop("actor", actor)
        actor_instance = registry(instance, **options)
        setattr(clazz, "__getattr__", generic_actor.__getattr__)  # noqa: B010 - must shadow the class attribute
        instance.__actor__ = actor_instance
        return instance

    def __getattr__(cls, name: str) -> Any:
        if "__actor__" not in cls.__dict__:
            raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")
        return getattr(cls.__actor__, name)


class GenericActor(metaclass=generic_actor):
    """Base class for class-based actors.

    A subclass's inner ``Meta`` supplies the actor options (``queue_name``, ``max_retries``,
    ``actor`` for a custom registry, ...). ``abstract = True`` keeps a class a base to
    inherit from; subclasses of an abstract class inherit its Meta.
    """

    class Meta:
        abstract = True

    @property
    def __name__(self) -> str:
        """The default actor name: the class name."""
        name: Any = type(self).__name__
        return str(name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.perform(*args, **kwargs)

    def perform(self, *args: Any, **kwargs: Any) -> Any:
        """Handle one message; concrete subclasses must implement it."""
        raise NotImplementedError(f"{self.__name__} does not implement perform()")
