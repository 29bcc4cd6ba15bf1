// Environment reading shared by the gateway's modules: a variable that is unset or blank is absent.
export const env = (name: string): string | undefined => {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
};

export const positive = (name: string, fallback: number): number => {
  const value = Number(env(name) ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};

export const list = (name: string, fallback = ''): string[] =>
  (env(name) ?? fallback).split(',').map((item) => item.trim()).filter(Boolean);

export const production = env('FLYWHEEL_ENV') === 'production';

// The header the gateway adds to every subgraph request, and the one that tells a subgraph the
// client address the gateway decided on (shared/edge.py reads both). In production every subgraph
// refuses GraphQL without the secret; a development default keeps `make up` working unconfigured.
export const GATEWAY_HEADER = 'x-flywheel-gateway';
export const CLIENT_HEADER = 'x-flywheel-client';
const DEV_GATEWAY_SECRET = 'dev-only-gateway-secret-0123456789abcdef';
export const gatewaySecret = (() => {
  const secret = env('GATEWAY_SECRET') ?? (production ? undefined : DEV_GATEWAY_SECRET);
  if (production && (!secret || secret.length < 32 || secret === DEV_GATEWAY_SECRET)) {
    throw new Error('FLYWHEEL_ENV=production needs GATEWAY_SECRET: 32 characters or more, not the development one');
  }
  return secret as string;
})();
