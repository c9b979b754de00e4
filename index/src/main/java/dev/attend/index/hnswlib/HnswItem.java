package dev.attend.index.hnswlib;

import com.github.jelmerk.hnswlib.core.Item;
import com.github.jelmerk.hnswlib.core.ObjectSerializer;
import java.io.IOException;
import java.io.ObjectInput;
import java.io.ObjectOutput;

/** One stored vector (already in its stored form: unit length for cosine) under its id. */
record HnswItem(Long id, float[] vector) implements Item<Long, float[]> {

    @Override
    public int dimensions() {
        return vector.length;
    }

    /** Writes ids as plain longs (instead of Java-serialised {@code Long} objects). */
    static final class IdSerializer implements ObjectSerializer<Long> {
        private static final long serialVersionUID = 1L;

        @Override
        public void write(Long id, ObjectOutput out) throws IOException {
            out.writeLong(id);
        }

        @Override
        public Long read(ObjectInput in) throws IOException {
            return in.readLong();
        }
    }

    /** Writes items as id, length and floats. */
    static final class Serializer implements ObjectSerializer<HnswItem> {
        private static final long serialVersionUID = 1L;

        @Override
        public void write(HnswItem item, ObjectOutput out) throws IOException {
            out.writeLong(item.id);
            out.writeInt(item.vector.length);
            for (float x : item.vector) {
                out.writeFloat(x);
            }
        }

        @Override
        public HnswItem read(ObjectInput in) throws IOException {
            long id = in.readLong();
            int n = in.readInt();
            if (n < 0 || n > 1 << 20) {
                throw new IOException("corrupt item: dimension " + n);
            }
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = in.readFloat();
            }
            return new HnswItem(id, v);
        }
    }
}
