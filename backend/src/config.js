// Settings from the environment, checked once at start.
export function loadConfig(env = process.env) {
  const number = (name, fallback) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`${name} must be a positive whole number, got '${raw}'`);
    }
    return value;
  };
  return {
    port: number('PORT', 3000),
    poseServiceUrl: (env.POSE_SERVICE_URL || 'http://pose-service:8000').replace(/\/+$/, ''),
    maxUploadBytes: number('MAX_UPLOAD_BYTES', 10 * 1024 * 1024),
    poseTimeoutMs: number('POSE_TIMEOUT_MS', 30000),
    uploadDir: env.UPLOAD_DIR || '', // when set, every accepted upload is kept there
  };
}
