import type { App } from '@simplebank/chassis';
import { FeeEstimate, FeeEstimateQuery } from '@simplebank/contracts';
import type { OrderPlacement } from '../commands/order-placement.ts';

export function feeRoutes(app: App, placement: OrderPlacement): void {
  // The fee an order would be quoted: valued at its limit price, as the order itself will be.
  app.get(
    '/fees/estimate',
    { schema: { querystring: FeeEstimateQuery, response: { 200: FeeEstimate } } },
    ({ query }) => placement.estimateFee(query),
  );
}
