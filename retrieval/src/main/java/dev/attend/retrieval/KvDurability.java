package dev.attend.retrieval;

/** How far an acknowledged prefill or append of a durable KV session ({@link KvSessionStore}) survives. */
public enum KvDurability {
    /** Forced to disk before it is acknowledged: survives a crash of the machine (power loss). */
    FSYNC("fsync"),
    /**
     * Handed to the operating system before it is acknowledged: survives a crash of the process ({@code kill -9}),
     * not of the machine. No disk flush per write, which on many disks costs milliseconds.
     */
    PROCESS("process");

    private final String wireName;

    KvDurability(String wireName) {
        this.wireName = wireName;
    }

    /** The name in configuration. */
    public String wireName() {
        return wireName;
    }

    /** The durability named {@code name}, or an error listing the known ones. */
    public static KvDurability of(String name) {
        for (KvDurability d : values()) {
            if (d.wireName.equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown durability '" + name + "': use fsync or process");
    }
}
