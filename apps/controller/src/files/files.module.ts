import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BrokerModule } from '../broker/broker.module';
import { MetricsModule } from '../metrics/metrics.module';
import { StoreModule } from '../store/store.module';
import { ChunkSender } from './chunk.sender';
import { FileManifests } from './file-manifests';
import { FileUploadService } from './file-upload.service';
import { FilesController } from './files.controller';

/**
 * File transfer (issue 16): uploads (`POST /v1/files`: {@link FilesController}, {@link FileUploadService}),
 * the manifests commands carry ({@link FileManifests}) and the chunks sent to agents ({@link ChunkSender}).
 */
@Module({
  imports: [StoreModule, AuditModule, BrokerModule, MetricsModule],
  controllers: [FilesController],
  providers: [FileUploadService, FileManifests, ChunkSender],
  exports: [FileUploadService, FileManifests, ChunkSender],
})
export class FilesModule {}
