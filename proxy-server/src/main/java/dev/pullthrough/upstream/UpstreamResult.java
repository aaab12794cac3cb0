package dev.pullthrough.upstream;

/** What the upstream answered, as a value: what was asked for, or the {@link Refusal} saying why not. */
public sealed interface UpstreamResult<T> {
    /** The upstream gave what was asked. */
    record Ok<T>(T value) implements UpstreamResult<T> {}

    /** The upstream did not (or could not) give it. */
    record Refused<T>(Refusal refusal) implements UpstreamResult<T> {}

    static <T> UpstreamResult<T> ok(T value) {
        return new Ok<>(value);
    }

    static <T> UpstreamResult<T> refused(Refusal refusal) {
        return new Refused<>(refusal);
    }
}
