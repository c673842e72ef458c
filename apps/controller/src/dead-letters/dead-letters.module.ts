import { Module } from '@nestjs/common';
import { BrokerModule } from '../broker/broker.module';
import { KeysModule } from '../keys/keys.module';
import { StoreModule } from '../store/store.module';
import { TasksModule } from '../tasks/tasks.module';
import { UndeliveredConsumer } from './undelivered.consumer';

/** Commands that expired unread: {@link UndeliveredConsumer} (started by AppModule) marks them `undelivered`. */
@Module({
  imports: [StoreModule, BrokerModule, KeysModule, TasksModule],
  providers: [UndeliveredConsumer],
  exports: [UndeliveredConsumer],
})
export class DeadLettersModule {}
