package dev.attend.gpu;

/** How a {@link VectorStore} keeps its numbers. Arithmetic is always float32. */
public enum Precision {
    /** IEEE binary32, 4 bytes per component. */
    FLOAT32(4),
    /** IEEE binary16, 2 bytes per component: half the bytes to read, about 3 decimal digits. */
    FLOAT16(2);

    private final int bytes;

    Precision(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per stored component. */
    public int bytes() {
        return bytes;
    }
}
