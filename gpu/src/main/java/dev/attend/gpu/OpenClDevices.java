package dev.attend.gpu;

import com.aparapi.device.OpenCLDevice;
import java.util.ArrayList;
import java.util.List;

/** The OpenCL devices Aparapi finds, and how a scorer picks and names one. */
final class OpenClDevices {

    private static final System.Logger LOG = System.getLogger(OpenClDevices.class.getName());

    private OpenClDevices() {
    }

    /** The OpenCL devices present, GPUs first; empty when no OpenCL runtime is installed, or no Aparapi. */
    static List<OpenCLDevice> list() {
        List<OpenCLDevice> all = new ArrayList<>();
        if (!OpenClSupport.aparapiPresent()) {
            return all;
        }
        try {
            all.addAll(OpenCLDevice.listDevices(com.aparapi.device.Device.TYPE.GPU));
            all.addAll(OpenCLDevice.listDevices(com.aparapi.device.Device.TYPE.ACC));
            all.addAll(OpenCLDevice.listDevices(com.aparapi.device.Device.TYPE.CPU));
        } catch (Throwable e) {
            LOG.log(System.Logger.Level.DEBUG, "OpenCL device listing failed", e);
        }
        return all;
    }

    /** Whether an OpenCL GPU is present (false without Aparapi). */
    static boolean anyGpu() {
        for (OpenCLDevice d : list()) {
            if (d.getType() == com.aparapi.device.Device.TYPE.GPU) {
                return true;
            }
        }
        return false;
    }

    /** The first device of the target's kind, or null. */
    static OpenCLDevice find(OpenClScorer.Target target) {
        for (OpenCLDevice d : list()) {
            boolean gpu = d.getType() == com.aparapi.device.Device.TYPE.GPU || d.getType() == com.aparapi.device.Device.TYPE.ACC;
            if (target == OpenClScorer.Target.GPU_THEN_CPU || (target == OpenClScorer.Target.GPU) == gpu) {
                return d;
            }
        }
        return null;
    }

    static Device describe(OpenCLDevice d) {
        Device.Kind kind = switch (d.getType()) {
            case GPU -> Device.Kind.GPU;
            case ACC -> Device.Kind.ACCELERATOR;
            default -> Device.Kind.CPU;
        };
        return new Device("opencl", kind, d.getName().strip() + ", " + d.getOpenCLPlatform().getName().strip()
                + ", " + d.getMaxComputeUnits() + " compute units");
    }
}
