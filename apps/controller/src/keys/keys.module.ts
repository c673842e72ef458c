import { Module } from '@nestjs/common';
import { ControllerKey } from './controller-key';

/** The controller's command-signing key ({@link ControllerKey}), loaded or created at start. */
@Module({ providers: [ControllerKey], exports: [ControllerKey] })
export class KeysModule {}
