import { runService } from '@simplebank/chassis';
import alerts from './service.ts';

await runService(alerts);
